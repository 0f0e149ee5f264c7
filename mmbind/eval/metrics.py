"""metrics.py

Scores from (prediction, ground truth) rows.

- `open_metrics`: accuracy by question type and overall, by normalised exact match (`normalize_answer`);
  `accuracy_by_type` the same of answers already marked correct or not.
- `pope_metrics`: per negative-sampling split, POPE's accuracy, precision, recall, F1 and yes-ratio with
  "yes" as the positive class (predictions read with `pope_answer`); precision (recall) is 0 when nothing
  is predicted (labelled) "yes", and F1 is 0 when both are 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mmbind.eval.normalize import normalize_answer, pope_answer

TYPE_ORDER = ("colour", "shape", "count", "motion")  # shown first, in this order; others follow by name
SPLIT_ORDER = ("random", "popular", "adversarial")


def _ordered(keys: Iterable[str], first: tuple[str, ...]) -> list[str]:
    keys = set(keys)
    return [k for k in first if k in keys] + sorted(keys - set(first))


def open_correct(prediction: str, answer: str) -> bool:
    """Normalised exact match."""
    return normalize_answer(prediction) == normalize_answer(answer)


def open_metrics(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``rows``: {"type", "answer", "prediction"}. Returns {"by_type": {type: {...}}, "overall": {...}},
    each {"accuracy", "correct", "n"}."""
    return accuracy_by_type((str(r["type"]), open_correct(str(r["prediction"]), str(r["answer"])))
                            for r in rows)


def accuracy_by_type(marks: Iterable[tuple[str, bool]]) -> dict[str, Any]:
    """(type, correct) pairs -> {"by_type": {type: {"accuracy", "correct", "n"}}, "overall": {...}}."""
    tally: dict[str, list[int]] = {}
    for kind, correct in marks:
        counts = tally.setdefault(kind, [0, 0])
        counts[0] += correct
        counts[1] += 1
    by_type = {t: _accuracy(*tally[t]) for t in _ordered(tally, TYPE_ORDER)}
    overall = _accuracy(sum(c for c, _ in tally.values()), sum(n for _, n in tally.values()))
    return {"by_type": by_type, "overall": overall}


def _accuracy(correct: int, n: int) -> dict[str, Any]:
    return {"accuracy": correct / n if n else 0.0, "correct": correct, "n": n}


def binary_scores(labels: list[str], predictions: list[str]) -> dict[str, Any]:
    """POPE's scores for "yes"/"no" ``labels`` and ``predictions``."""
    pairs = list(zip(labels, predictions))
    tp = sum(t == "yes" and p == "yes" for t, p in pairs)
    fp = sum(t == "no" and p == "yes" for t, p in pairs)
    tn = sum(t == "no" and p == "no" for t, p in pairs)
    fn = sum(t == "yes" and p == "no" for t, p in pairs)
    n = len(pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": (tp + tn) / n if n else 0.0, "precision": precision, "recall": recall, "f1": f1,
        "yes_ratio": (tp + fp) / n if n else 0.0, "tp": tp, "fp": fp, "tn": tn, "fn": fn, "n": n,
    }


def pope_metrics(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """``rows``: {"split", "answer" ("yes"/"no"), "prediction" (free text)}. Returns {split: scores}."""
    groups: dict[str, tuple[list[str], list[str]]] = {}
    for row in rows:
        labels, predictions = groups.setdefault(str(row["split"]), ([], []))
        labels.append(normalize_answer(str(row["answer"])))
        predictions.append(pope_answer(str(row["prediction"])))
    return {split: binary_scores(*groups[split]) for split in _ordered(groups, SPLIT_ORDER)}
