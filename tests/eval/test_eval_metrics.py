"""Evaluation metrics on hand-made predictions: VQA-style normalisation, POPE's yes/no reading, open-question
accuracy by type and POPE accuracy / precision / recall / F1 / yes-ratio per split, to exact numbers."""

from __future__ import annotations

import pytest

from mmbind.eval import binary_scores, normalize_answer, open_metrics, pope_answer, pope_metrics


@pytest.mark.parametrize("text,expected", [
    ("The Two.", "2"),
    ("Moving  left!", "moving left"),
    ("a red circle", "red circle"),
    ("\nYellow\t", "yellow"),
    ("3.5", "3.5"),
    ("It's red", "its red"),
    ("none", "0"),
    ("an object, the other", "object other"),
    ("", ""),
])
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("Yes", "yes"),
    ("yes, there is a red circle in the top left.", "yes"),
    ("No, there is no red circle.", "no"),
    ("no", "no"),
    ("There is not a circle", "no"),
    ("Yes. No.", "yes"),  # only the text before the first full stop counts
    ("Nope", "yes"),  # LLaVA's rule looks for the words no / No / not only
    ("", "yes"),  # ... so an empty answer reads as yes, as in eval_pope.py
])
def test_pope_answer(text, expected):
    assert pope_answer(text) == expected


def test_open_accuracy_by_type():
    rows = [
        ("colour", "red", "red"), ("colour", "Red.", "red"), ("colour", "blue", "red"),
        ("shape", "a circle", "circle"), ("shape", "square", "circle"),
        ("count", "two", "2"), ("count", "3", "2"), ("count", "2 objects", "2"),
        ("motion", "Moving left.", "moving left"),
        ("size", "small", "small"),
    ]
    metrics = open_metrics({"type": t, "prediction": p, "answer": a} for t, p, a in rows)
    assert list(metrics["by_type"]) == ["colour", "shape", "count", "motion", "size"]
    assert metrics["by_type"]["colour"] == {"accuracy": 2 / 3, "correct": 2, "n": 3}
    assert metrics["by_type"]["shape"] == {"accuracy": 0.5, "correct": 1, "n": 2}
    assert metrics["by_type"]["count"] == {"accuracy": 1 / 3, "correct": 1, "n": 3}
    assert metrics["by_type"]["motion"] == {"accuracy": 1.0, "correct": 1, "n": 1}
    assert metrics["overall"] == {"accuracy": 0.6, "correct": 6, "n": 10}
    assert open_metrics([]) == {"by_type": {}, "overall": {"accuracy": 0.0, "correct": 0, "n": 0}}


def test_pope_scores_per_split():
    rows = [
        # random: TP, FN, TN, FP, TN, TP
        ("random", "yes", "Yes"), ("random", "yes", "No"), ("random", "no", "no"),
        ("random", "no", "Yes, there is one."), ("random", "no", "There is no red circle."),
        ("random", "yes", "yes"),
        # adversarial: everything answered "no"
        ("adversarial", "yes", "no"), ("adversarial", "no", "not at all"),
        # popular: only negatives, everything answered "yes"
        ("popular", "no", "yes"), ("popular", "no", "Yes."),
    ]
    metrics = pope_metrics({"split": s, "answer": a, "prediction": p} for s, a, p in rows)
    assert list(metrics) == ["random", "popular", "adversarial"]
    assert metrics["random"] == {
        "accuracy": 4 / 6, "precision": 2 / 3, "recall": 2 / 3, "f1": pytest.approx(2 / 3), "yes_ratio": 0.5,
        "tp": 2, "fp": 1, "tn": 2, "fn": 1, "n": 6,
    }
    assert metrics["adversarial"] == {
        "accuracy": 0.5, "precision": 0.0, "recall": 0.0, "f1": 0.0, "yes_ratio": 0.0,
        "tp": 0, "fp": 0, "tn": 1, "fn": 1, "n": 2,
    }
    assert metrics["popular"] == {
        "accuracy": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "yes_ratio": 1.0,
        "tp": 0, "fp": 2, "tn": 0, "fn": 0, "n": 2,
    }


def test_binary_scores_f1_is_the_harmonic_mean():
    labels = ["yes"] * 4 + ["no"] * 4
    predictions = ["yes", "yes", "yes", "no", "yes", "no", "no", "no"]  # TP 3, FN 1, FP 1, TN 3
    scores = binary_scores(labels, predictions)
    assert ((scores["precision"], scores["recall"], scores["accuracy"], scores["yes_ratio"])
            == (0.75, 0.75, 0.75, 0.5))
    assert scores["f1"] == pytest.approx(0.75)
    scores = binary_scores(["yes", "yes", "no"], ["yes", "no", "no"])  # P 1, R 1/2
    assert scores["f1"] == pytest.approx(2 / 3)
