"""compare.py

Is a variant really different from the sweep's baseline (its first variant)? For each metric and each
other variant, a paired comparison over the seeds both have and the questions both answered
(`mmbind.eval.stats.paired_difference`: a two-level paired bootstrap that resamples seeds and questions,
its 95% interval and two-sided p-value): accuracy metrics are compared question by question (each result
file's ``predictions`` carry ``correct``; ``by_type.<t>`` / a POPE split restricts to that group), other
metrics (F1, yes-ratio, ...) by their per-seed values only, which needs at least two seeds. The result marks
each cell of ``results.md`` and the terminal table as significant (``*``) or not (``ns``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmbind.ablate.schema import MetricSpec
from mmbind.eval.stats import PairedResult, paired_difference

QuestionScores = dict[str, float]  # question id -> 1.0 correct / 0.0 wrong


@dataclass(frozen=True)
class Comparison:
    """One variant against the baseline on one metric."""

    variant: str
    metric: str  # the metric's key
    baseline: str
    unit: str  # "questions" (paired over seeds and questions) or "seeds" (per-seed values only)
    result: PairedResult

    def to_json(self) -> dict[str, Any]:
        """JSON-able."""
        return {"variant": self.variant, "metric": self.metric, "baseline": self.baseline, "unit": self.unit,
                **self.result.to_json()}


def question_scores(metric: MetricSpec, result: Mapping[str, Any]) -> QuestionScores | None:
    """Per-question correctness behind an accuracy metric of one result file (None for other metrics or
    results without predictions)."""
    path = metric.path
    rows = result.get("predictions")
    if not path or path[-1] != "accuracy" or not isinstance(rows, list):
        return None
    group: str | None = None
    if len(path) == 3 and path[0] == "by_type" and path[1] != "*":
        group = path[1]
    elif len(path) == 2 and path[0] not in ("overall", "*"):
        group = path[0]
    out: QuestionScores = {}
    for row in rows:
        if isinstance(row, dict) and "correct" in row and (group is None or row.get("group") == group):
            out[str(row.get("id"))] = float(bool(row["correct"]))
    return out or None


def compare_variant(variant: str, baseline: str, metric: MetricSpec, seeds: list[int],
                    values: Mapping[str, Mapping[int, float]],
                    questions: Mapping[str, Mapping[int, QuestionScores]]) -> Comparison | None:
    """``variant`` against ``baseline`` on ``metric`` (None when they share too little to compare)."""
    per_q_v, per_q_b = questions.get(variant, {}), questions.get(baseline, {})
    common_seeds = [s for s in seeds if s in per_q_v and s in per_q_b]
    if common_seeds:
        ids = set.intersection(*(set(per_q_v[s]) & set(per_q_b[s]) for s in common_seeds))
        if ids:
            order = sorted(ids)
            a = np.array([[per_q_v[s][i] for i in order] for s in common_seeds])
            b = np.array([[per_q_b[s][i] for i in order] for s in common_seeds])
            return Comparison(variant, metric.key, baseline, "questions", paired_difference(a, b))
    val_v, val_b = values.get(variant, {}), values.get(baseline, {})
    common = [s for s in seeds if s in val_v and s in val_b]
    if len(common) < 2:
        return None
    a = np.array([[val_v[s] for s in common]])
    b = np.array([[val_b[s] for s in common]])
    return Comparison(variant, metric.key, baseline, "seeds", paired_difference(a, b))


def mark(comparison: Comparison | None) -> str:
    """`` *`` significant, `` ns`` not, empty when not compared (the baseline itself, or too little)."""
    if comparison is None:
        return ""
    return " *" if comparison.result.significant else " ns"
