"""Every score's 95% bootstrap interval, and the sweep's paired comparison of each variant with the
baseline over seeds and questions, marked significant (*) or not (ns) in results.md."""

from __future__ import annotations

import numpy as np

from mmbind.ablate.compare import question_scores
from mmbind.ablate.report import markdown
from mmbind.ablate.results import ResultTable
from mmbind.ablate.schema import MetricSpec
from mmbind.eval.stats import bootstrap_ci, paired_difference


def test_bootstrap_ci_brackets_the_mean_and_is_seeded():
    values = [1.0] * 60 + [0.0] * 40
    low, high = bootstrap_ci(values)
    assert low < 0.6 < high and 0.45 < low and high < 0.75
    assert bootstrap_ci(values) == (low, high)
    assert bootstrap_ci([1.0, 1.0]) == (1.0, 1.0)
    assert all(np.isnan(bootstrap_ci([])))


def test_paired_difference_separates_real_from_noise():
    rng = np.random.default_rng(1)
    base = (rng.random((3, 200)) < 0.5).astype(float)
    better = np.maximum(base, (rng.random((3, 200)) < 0.4).astype(float))  # strictly more correct
    real = paired_difference(better, base)
    assert real.significant and real.low > 0 and real.questions == 200 and real.seeds == 3
    noise = paired_difference(base[[1, 2, 0]], base)  # same accuracy, shuffled seeds
    assert not paired_difference(base, base).significant and abs(noise.difference) < 0.05


def test_a_difference_that_flips_between_seeds_is_not_significant():
    """Better on two seeds, much worse on the third (POPE-like bimodal seeds): over 400 questions a test of
    questions alone calls the mean difference (about -0.07) significant; the seeds' spread makes it not."""
    rng = np.random.default_rng(2)
    base = np.stack([(rng.random(400) < p).astype(float) for p in (0.5, 0.5, 0.9)])
    variant = np.stack([(rng.random(400) < p).astype(float) for p in (0.6, 0.6, 0.5)])
    flips = paired_difference(variant, base)
    assert flips.difference < -0.03 and flips.low < 0 < flips.high and not flips.significant
    questions_only = paired_difference(variant.mean(axis=0, keepdims=True), base.mean(axis=0, keepdims=True))
    assert questions_only.significant and questions_only.high < 0  # what ignoring the seeds would claim
    steady = np.stack([(rng.random(400) < p).astype(float) for p in (0.6, 0.6, 0.65)])
    assert paired_difference(steady, base[:2].repeat([1, 2], axis=0)).significant


def _result(correct: list[bool]) -> dict:
    rows = [{"id": f"q{i}", "group": "colour" if i % 2 else "shape", "correct": c}
            for i, c in enumerate(correct)]
    return {"predictions": rows}


def test_sweep_table_marks_significance():
    metric = MetricSpec(key="image_open.overall.accuracy", label="acc")
    table = ResultTable("s", [0, 1], {"base": "baseline", "good": "better", "same": "same"}, [metric])
    rng = np.random.default_rng(0)
    for seed in (0, 1):
        base = list(rng.random(120) < 0.4)
        variants = {"base": base, "good": [True] * 120, "same": list(base)}
        for name, correct in variants.items():
            table.values.setdefault(name, {}).setdefault(metric.key, {})[seed] = float(np.mean(correct))
            per_q = question_scores(metric, _result(correct))
            table.questions.setdefault(name, {}).setdefault(metric.key, {})[seed] = per_q
    table.compare()
    assert table.comparison("good", metric.key).result.significant
    assert not table.comparison("same", metric.key).result.significant
    assert table.comparison("good", metric.key).unit == "questions"
    text = markdown(table)
    good = next(line for line in text.splitlines() if line.startswith("| better"))
    same = next(line for line in text.splitlines() if line.startswith("| same"))
    assert good.endswith(" * |") and same.endswith(" ns |") and "Against the baseline (baseline)" in text
    assert table.to_json()["comparisons"]["good"][metric.key]["significant"] is True


def test_group_metrics_use_their_group_only():
    by_type = MetricSpec(key="image_open.by_type.colour.accuracy")
    scores = question_scores(by_type, _result([True, False, True, False]))
    assert scores == {"q1": 0.0, "q3": 0.0}
    assert question_scores(MetricSpec(key="image_pope.*.f1"), _result([True])) is None
