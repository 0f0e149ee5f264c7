"""One scorer per question kind serves both outputs: the study's point scores and a benchmark's scores with
intervals mark the same answers correct and agree on every number they share."""

from __future__ import annotations

import pytest

from mmbind.eval.scoring import SCORERS, JudgedScorer, score, scorer_for

OPEN = [("colour", "red", "Red."), ("colour", "blue", "green"), ("shape", "circle", "a circle"),
        ("count", "2", "two")]
PROBES = [("random", "yes", "Yes, there is."), ("random", "no", "No."), ("random", "no", "yes"),
          ("adversarial", "yes", "There is not."), ("adversarial", "no", "no")]


def rows(triples):
    return [{"id": str(i), "group": g, "question": "q?", "answer": a, "prediction": p}
            for i, (g, a, p) in enumerate(triples)]


def test_one_scorer_per_kind():
    assert set(SCORERS) == {"open", "pope", "qa"}
    assert all(scorer_for(kind).kind == kind for kind in SCORERS)
    assert isinstance(scorer_for("something else"), JudgedScorer)  # any other kind: open answers, judged


@pytest.mark.parametrize("kind, triples", [("open", OPEN), ("pope", PROBES)])
def test_points_and_intervals_agree(kind, triples):
    study, bench = rows(triples), rows(triples)
    points, scorer = score(kind, study, intervals=False)
    with_ci, same_scorer = score(kind, bench, intervals=True)
    assert scorer == same_scorer and [r["correct"] for r in study] == [r["correct"] for r in bench]
    if kind == "open":
        assert [r["correct"] for r in study] == [True, False, True, True]
        assert points["overall"] == {"accuracy": 0.75, "correct": 3, "n": 4}
        assert with_ci["accuracy"]["value"] == 0.75 and with_ci["accuracy"]["n"] == 4
        assert with_ci["by_group"]["colour"]["value"] == points["by_type"]["colour"]["accuracy"] == 0.5
    else:
        assert [r["correct"] for r in study] == [True, True, False, False, True]
        for split, scores in points.items():
            shared = {k: v for k, v in with_ci["splits"][split].items() if not k.endswith("_ci95")}
            assert shared == scores
        assert points["random"]["accuracy"] == pytest.approx(2 / 3)


def test_offline_qa_points_count_the_marks():
    marked = rows([("all", "dog", "a brown dog"), ("all", "cat", "a dog")])
    points, scorer = score("qa", marked, intervals=False)
    assert scorer["name"] == "offline" and not scorer["comparable_with_paper"]
    assert points["overall"] == {"accuracy": 0.5, "correct": 1, "n": 2}
