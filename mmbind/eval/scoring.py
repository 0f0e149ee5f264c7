"""scoring.py

One scorer per question kind (an `EvalSet`'s ``kind``). Each marks every answered question ``correct`` and
gives the kind's scores, either as points (the study's ``<set>.json`` files and tables) or each with its
95% bootstrap interval over questions (`stats`; a benchmark's ``results.json``):

- ``open`` (`OpenScorer`): normalised exact match (`open_correct`); points by question type and overall
  (`open_metrics`), intervals overall and per group.
- ``pope`` (`ProbeScorer`, yes/no probes): answers read with `pope_answer`; POPE's accuracy, precision,
  recall, F1 and yes-ratio per split (`pope_metrics`, exactly as ``eval_pope.py``), with intervals on
  accuracy and F1 and the mean over the splits.
- ``qa`` (`JudgedScorer`, open answers): with a judge, the paper's protocol -- accuracy = yes / (yes + no)
  over valid verdicts and the mean 0-5 score, invalid verdicts counted apart; the scorer records where this
  run's verdicts came from (``verdicts``: ``from_cache``, ``asked``, ``invalid``). Without a judge, the
  offline normalised match, labelled as not comparable with the paper. Any other kind is scored as ``qa``.

Questions without a prediction (missing or unreadable media) are left out of every score and counted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mmbind.eval.judge.client import Judge
from mmbind.eval.judge.offline import OFFLINE_LABEL, offline_match
from mmbind.eval.metrics import accuracy_by_type, open_correct, open_metrics, pope_metrics
from mmbind.eval.normalize import pope_answer
from mmbind.eval.stats import bootstrap_ci
from mmbind.interfaces.benchmark import EvalItem

Rows = list[dict[str, Any]]  # {"id", "group", "question", "answer", "prediction"}; scoring adds "correct"


def prediction_rows(items: Sequence[EvalItem], answers: dict[str, str]) -> Rows:
    """One row per answered question."""
    return [{"id": i.id, "group": i.group, "question": i.question, "answer": i.answer,
             "prediction": answers[i.id]} for i in items if i.id in answers]


class Scorer(ABC):
    """How the answers to one kind of question are scored."""

    kind: str

    @abstractmethod
    def mark(self, rows: Rows, judge: Judge | None = None,
             on_judged: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Mark each row ``correct``; returns the scorer's description (name, label, comparability)."""

    @abstractmethod
    def points(self, rows: Rows) -> dict[str, Any]:
        """The scores of marked ``rows``."""

    @abstractmethod
    def intervals(self, rows: Rows, scorer: dict[str, Any]) -> dict[str, Any]:
        """The scores of marked ``rows``, each with its 95% interval."""

    def score(self, rows: Rows, judge: Judge | None = None, on_judged: Callable[[int], None] | None = None,
              intervals: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
        """(metrics, scorer) of ``rows``, which gain ``correct``."""
        scorer = self.mark(rows, judge, on_judged)
        return (self.intervals(rows, scorer) if intervals else self.points(rows)), scorer


class OpenScorer(Scorer):
    """Short open answers: normalised exact match."""

    kind = "open"

    def mark(self, rows: Rows, judge: Judge | None = None,
             on_judged: Callable[[int], None] | None = None) -> dict[str, Any]:
        for row in rows:
            row["correct"] = open_correct(row["prediction"], row["answer"])
        return {"name": "exact", "label": "normalised exact match", "comparable_with_paper": False}

    def points(self, rows: Rows) -> dict[str, Any]:
        return open_metrics({"type": r["group"], **r} for r in rows)

    def intervals(self, rows: Rows, scorer: dict[str, Any]) -> dict[str, Any]:
        groups = sorted({r["group"] for r in rows})
        return {"accuracy": _with_ci([float(r["correct"]) for r in rows]),
                "by_group": {g: _with_ci([float(r["correct"]) for r in rows if r["group"] == g])
                             for g in groups}}


class ProbeScorer(Scorer):
    """Yes / no probes (POPE), one group per negative-sampling split."""

    kind = "pope"

    def mark(self, rows: Rows, judge: Judge | None = None,
             on_judged: Callable[[int], None] | None = None) -> dict[str, Any]:
        for row in rows:
            row["correct"] = pope_answer(row["prediction"]) == row["answer"]
        return {"name": "pope", "label": "POPE (eval_pope.py)", "comparable_with_paper": True}

    def points(self, rows: Rows) -> dict[str, Any]:
        return pope_metrics({"split": r["group"], **r} for r in rows)

    def intervals(self, rows: Rows, scorer: dict[str, Any]) -> dict[str, Any]:
        metrics = self.points(rows)
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


class JudgedScorer(Scorer):
    """Open answers judged (the GPT judge), or matched offline without a judge."""

    kind = "qa"

    def mark(self, rows: Rows, judge: Judge | None = None,
             on_judged: Callable[[int], None] | None = None) -> dict[str, Any]:
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

    def points(self, rows: Rows) -> dict[str, Any]:
        return accuracy_by_type((r["group"], bool(r["correct"])) for r in rows)

    def intervals(self, rows: Rows, scorer: dict[str, Any]) -> dict[str, Any]:
        if scorer["name"] != "judge":
            return {"accuracy": _with_ci([float(r["correct"]) for r in rows])}
        valid = [r for r in rows if r["valid"]]
        return {"accuracy": _with_ci([float(r["correct"]) for r in valid]),
                "score": _with_ci([float(r["score"]) for r in valid]),
                "yes": sum(r["correct"] for r in valid), "no": sum(not r["correct"] for r in valid),
                "invalid": len(rows) - len(valid)}


SCORERS: dict[str, Scorer] = {s.kind: s for s in (OpenScorer(), ProbeScorer(), JudgedScorer())}


def scorer_for(kind: str) -> Scorer:
    """The scorer of questions of ``kind`` (unknown kinds: open answers, judged)."""
    return SCORERS.get(kind, SCORERS["qa"])


def score(kind: str, rows: Rows, judge: Judge | None = None, on_judged: Callable[[int], None] | None = None,
          intervals: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, scorer) for ``rows`` of a ``kind`` set; rows gain ``correct``."""
    return scorer_for(kind).score(rows, judge, on_judged, intervals)


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
