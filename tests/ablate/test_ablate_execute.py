"""The sweep executor with a fast fake runner: data prepared once, every (variant, seed) trained then
evaluated in its folder, finished runs skipped on a rerun, an interrupted run resumed (and the runs after
it started) on the next, a changed eval request re-evaluates without retraining, a changed recipe is an
error, and the collected table is the mean ± std of what the runs wrote."""

from __future__ import annotations

import json

import pytest

from mmbind.ablate import load_plan, run_sweep
from mmbind.cli.main import main
from mmbind.errors import SweepError
from tests.support.ablate import FakeRunner, fake_dataset, score, write_sweep

KEY = "image_open.overall.accuracy"
NAMES = ["a/seed0", "a/seed1", "b/seed0", "b/seed1"]


@pytest.fixture
def sweep(tmp_path):
    data = tmp_path / "data"
    return write_sweep(tmp_path, data, data={"synth": {"out": str(data), "size": "micro", "seed": 4}})


def calls(runner, kind):
    return [c[1:] for c in runner.calls if c[0] == kind]


def test_full_run_then_everything_skipped(sweep, tmp_path):
    runner = FakeRunner()
    report = run_sweep(sweep, runner=runner)
    runs = [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    assert runner.calls[0] == ("synth", str(tmp_path / "data"), "micro", 4, "default")
    assert calls(runner, "train") == [(r, False) for r in runs]
    assert calls(runner, "evaluate") == [(r, None) for r in runs]
    assert report.outcome.status == "done" and report.outcome.trained == NAMES
    marker = json.loads((tmp_path / "out" / "b" / "seed1" / "ablate.json").read_text())
    assert marker["sets"] == {"image_open": "eval/image_open.json", "video_pope": "eval/video_pope.json"}
    assert [m.key for m in report.table.metrics] == [KEY, "video_pope.*.accuracy"]  # the sets' headlines
    cell = report.table.cell("b", "video_pope.*.accuracy")  # mean of random (score), adversarial (- 0.2)
    assert cell.values == pytest.approx((score("b", 0, -0.1), score("b", 1, -0.1)))
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "a", "b", "results.md", "results.csv", "results.json", "results.png"}

    again = FakeRunner(fail=True)  # a rerun runs nothing at all: the data exist, every run is done
    report = run_sweep(sweep, runner=again)
    assert report.outcome.skipped == NAMES and report.outcome.trained == []
    assert report.table.cell("a", KEY).values == pytest.approx((0.5, 0.6))


def test_interrupted_run_is_resumed(sweep, tmp_path):
    first = FakeRunner(interrupt=(("a", 1),))
    report = run_sweep(sweep, runner=first)
    assert report.outcome.status == "interrupted"
    assert report.outcome.checkpoint == str(tmp_path / "out" / "a" / "seed1" / "checkpoints" / "ckpt-s1-1")
    assert calls(first, "train") == [(("a", 0), False), (("a", 1), False)]  # the sweep stopped there
    assert report.table.cell("a", KEY).n == 1 and report.table.cell("b", KEY).n == 0  # a partial table

    plan = load_plan(sweep)
    assert [r.status for r in plan.runs] == ["done", "resume", "new", "new"]
    second = FakeRunner()
    report = run_sweep(sweep, runner=second)
    assert calls(second, "synth") == []
    assert calls(second, "train") == [(("a", 1), True), (("b", 0), False), (("b", 1), False)]
    assert report.outcome.resumed == ["a/seed1"] and report.outcome.skipped == ["a/seed0"]
    assert report.table.cell("b", KEY).values == pytest.approx((0.7, 0.8))


def test_changed_eval_request_reevaluates_only(sweep):
    run_sweep(sweep, runner=FakeRunner())
    text = sweep.read_text() + "eval: {limit: 3}\n"
    sweep.write_text(text)
    assert {r.status for r in load_plan(sweep).runs} == {"evaluate"}
    runner = FakeRunner()
    run_sweep(sweep, runner=runner)
    assert calls(runner, "train") == [] and [c[1] for c in calls(runner, "evaluate")] == [3, 3, 3, 3]


def test_trained_but_not_evaluated_is_evaluated(sweep, tmp_path):
    run_sweep(sweep, runner=FakeRunner())
    (tmp_path / "out" / "b" / "seed0" / "eval" / "video_pope.json").unlink()  # a result file went missing
    runner = FakeRunner()
    run_sweep(sweep, runner=runner)
    assert calls(runner, "train") == [] and calls(runner, "evaluate") == [(("b", 0), None)]


def test_changed_recipe_is_an_error(sweep, tmp_path):
    run_sweep(sweep, runner=FakeRunner())
    folder = tmp_path / "out" / "a" / "seed0"
    message = (rf"^{folder}: holds a run of another recipe than variant 'a' seed 0 resolves to now "
               r"\(first difference: stages\.finetune\.max_steps\); delete that folder")
    with pytest.raises(SweepError, match=message):
        load_plan(sweep, overrides=["stages.finetune.max_steps=3"])


def test_existing_dataset_is_not_regenerated(tmp_path):
    data = fake_dataset(tmp_path / "data")
    sweep = write_sweep(tmp_path, data, data={"synth": {"out": str(data)}}, seeds=[0], variants={"a": {}})
    runner = FakeRunner()
    run_sweep(sweep, runner=runner)
    assert [c[0] for c in runner.calls] == ["train", "evaluate"]


def test_cli_report_only(sweep, tmp_path, capsys):
    run_sweep(sweep, runner=FakeRunner(interrupt=(("b", 0),)))
    (tmp_path / "out" / "results.md").unlink()
    assert main(["ablate", str(sweep), "--report-only"]) == 0  # tabulates; trains nothing (b is unfinished)
    out = " ".join(capsys.readouterr().out.split())
    assert "variant A" in out and "55.0 ± 7.1" in out and "fake: Mean ± sample standard deviation" in out
    assert "| b | - | - |" in (tmp_path / "out" / "results.md").read_text()
    assert not (tmp_path / "out" / "b" / "seed1").exists()


def test_the_long_world_is_generated_when_asked(tmp_path):
    data = tmp_path / "long"
    sweep = write_sweep(tmp_path, data, data={"synth": {"out": str(data), "size": "micro", "world": "long"}},
                        seeds=[0], variants={"a": {}})
    runner = FakeRunner()
    run_sweep(sweep, runner=runner)
    assert runner.calls[0] == ("synth", str(data), "micro", 0, "long")
