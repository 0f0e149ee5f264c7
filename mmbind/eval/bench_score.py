"""bench_score.py

Scores of a benchmark's predictions, each with its 95% bootstrap interval over questions (`stats`):

- ``qa`` (open answers): with a judge, the paper's protocol -- accuracy = yes / (yes + no) over valid
  verdicts and the mean 0-5 score, invalid verdicts counted apart; the scorer records where this run's
  verdicts came from (``verdicts``: ``from_cache``, ``asked``, ``invalid``). Without a judge, the offline
  normalised match, labelled as not comparable with the paper.
- ``pope``: POPE's accuracy, precision, recall, F1 and yes-ratio per split (`pope_metrics`, exactly as
  ``eval_pope.py``), intervals on accuracy and F1, and the mean over the splits.
- ``open``: normalised exact-match accuracy, overall and per group.

Questions without a prediction (missing or unreadable media) are left out of every score and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mmbind.eval.judge.client import Judge
from mmbind.eval.judge.offline import OFFLINE_LABEL, offline_match
from mmbind.eval.metrics import binary_scores, open_correct, pope_metrics
from mmbind.eval.normalize import pope_answer
from mmbind.eval.stats import bootstrap_ci
from mmbind.interfaces.benchmark import EvalItem


def _with_ci(values: Sequence[float]) -> dict[str, Any]:
    low, high = bootstrap_ci(values)
    n = len(values)
    return {"value": float(np.mean(values)) if n else None, "ci95": [low, high] if n else None, "n": n}


def _f1(pairs: np.ndarray) -> float:
    labels, preds = pairs[:, 0], pairs[:, 1]
    tp = float(np.sum((labels == 1) & (preds == 1)))
    fp = float(np.sum((labels == 0) & (preds == 1)))
    fn = float(np.sum((labels == 1) & (preds == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def score_pope(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """POPE's scores per split, with intervals, and their mean over splits."""
    metrics = pope_metrics({"split": r["group"], "answer": r["answer"], "prediction": r["prediction"]}
                           for r in rows)
    for split, scores in metrics.items():
        chosen = [r for r in rows if r["group"] == split]
        pairs = np.array([[r["answer"] == "yes", pope_answer(r["prediction"]) == "yes"] for r in chosen],
                         float)
        scores["accuracy_ci95"] = list(bootstrap_ci([float(r["correct"]) for r in chosen]))
        scores["f1_ci95"] = list(bootstrap_ci(pairs, _f1))
    keys = ("accuracy", "precision", "recall", "f1", "yes_ratio")
    splits = list(metrics.values())
    mean = {k: float(np.mean([s[k] for s in splits])) if splits else None for k in keys}
    return {"splits": metrics, "mean": mean}


def judge_rows(rows: list[dict[str, Any]], judge: Judge | None,
               on_judged: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Mark each row (``correct``, ``score``, ``valid``) and return the scorer's description."""
    if judge is None:
        for row in rows:
            row["correct"] = offline_match(row["prediction"], row["answer"])
        return {"name": "offline", "label": OFFLINE_LABEL, "comparable_with_paper": False}
    verdicts = judge.judge([(r["question"], r["answer"], r["prediction"]) for r in rows], on_judged)
    for row, verdict in zip(rows, verdicts):
        row.update(correct=verdict.correct, score=verdict.score, valid=verdict.valid)
    record = judge.config.record()
    label = f"GPT judge {record['model']} (Video-ChatGPT protocol, prompt {record['prompt_version']})"
    return {"name": "judge", **record, "comparable_with_paper": True, "label": label,
            "verdicts": judge.counts.record()}


def score_qa(rows: list[dict[str, Any]], judged: bool) -> dict[str, Any]:
    """Accuracy (and, judged, the mean score) with intervals."""
    if not judged:
        return {"accuracy": _with_ci([float(r["correct"]) for r in rows])}
    valid = [r for r in rows if r["valid"]]
    return {"accuracy": _with_ci([float(r["correct"]) for r in valid]),
            "score": _with_ci([float(r["score"]) for r in valid]),
            "yes": sum(r["correct"] for r in valid), "no": sum(not r["correct"] for r in valid),
            "invalid": len(rows) - len(valid)}


def score_open(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Exact-match accuracy overall and per group, with intervals."""
    groups = sorted({r["group"] for r in rows})
    return {"accuracy": _with_ci([float(r["correct"]) for r in rows]),
            "by_group": {g: _with_ci([float(r["correct"]) for r in rows if r["group"] == g]) for g in groups}}


def prediction_rows(items: Sequence[EvalItem], answers: dict[str, str]) -> list[dict[str, Any]]:
    """One row per answered question."""
    return [{"id": i.id, "group": i.group, "question": i.question, "answer": i.answer,
             "prediction": answers[i.id]} for i in items if i.id in answers]


def score(kind: str, rows: list[dict[str, Any]], judge: Judge | None,
          on_judged: Callable[[int], None] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, scorer) for ``rows`` of a ``kind`` benchmark; rows gain ``correct``."""
    if kind == "pope":
        for row in rows:
            row["correct"] = pope_answer(row["prediction"]) == row["answer"]
        scorer = {"name": "pope", "label": "POPE (eval_pope.py)", "comparable_with_paper": True}
        return score_pope(rows), scorer
    if kind == "open":
        for row in rows:
            row["correct"] = open_correct(row["prediction"], row["answer"])
        return score_open(rows), {"name": "exact", "label": "normalised exact match",
                                  "comparable_with_paper": False}
    scorer = judge_rows(rows, judge, on_judged)
    return score_qa(rows, judge is not None), scorer


__all__ = ["binary_scores", "prediction_rows", "score", "score_open", "score_pope", "score_qa"]
