"""``mmbind eval TARGET --benchmark NAME --data DIR`` end to end on the tiny run: predictions written
incrementally and resumed, generation settings pinned next to them, missing media counted (never a
crash), the open answers judged by a real local OpenAI-compatible server (or scored offline and labelled
so), POPE scored as eval_pope.py, every score with a 95% interval; bad input is one clear message."""

from __future__ import annotations

import json
import re

import pytest

from mmbind.eval.metrics import pope_metrics
from mmbind.eval.predict import read_predictions
from tests.support.bench import fake_judge, pope_folder, videoqa_folder
from tests.support.helpers import cli


@pytest.mark.slow  # ~3 s on a busy 2-core machine
def test_videoqa_judged_resumed_and_missing_media(run, micro, tmp_path, capsys, monkeypatch):
    data = videoqa_folder(micro, tmp_path / "msvd", n=6, missing=1)
    out = tmp_path / "out"
    monkeypatch.setenv("MMBIND_JUDGE_API_KEY", "sk-test")
    with fake_judge() as server:
        args = ["eval", run, "--benchmark", "msvd_qa", "--data", data, "--output", out, "--batch-size", 4,
                "--max-new-tokens", 4, "--judge-model", "judge-1", "--judge-base-url", server.base_url,
                "--judge-cache", tmp_path / "cache"]
        code, stdout, err = cli(capsys, *args, "--json")
        assert code == 0, err
        result = json.loads(stdout)
        assert "1 question(s) skipped: media missing or unreadable (first: q5:" in err
        assert result["missing_media"]["count"] == 1 and result["answered"] == 5
        assert result["scorer"]["name"] == "judge" and result["scorer"]["prompt_version"]
        acc = result["metrics"]["accuracy"]
        assert acc["n"] == 5 and acc["ci95"][0] <= acc["value"] <= acc["ci95"][1]
        assert len(server.requests) == 5
        assert result["scorer"]["verdicts"] == {"from_cache": 0, "asked": 5, "invalid": 0}
        generation = json.loads((out / "generation.json").read_text())
        assert generation["do_sample"] is False and generation["max_new_tokens"] == 4
        assert generation["padding"] == "left" and generation["use_cache"] is True
        first = read_predictions(out / "predictions.jsonl").answers
        # an interrupted run: drop two answers (and tear the last line), run again
        lines = (out / "predictions.jsonl").read_text().splitlines()
        kept = [line for line in lines if '"q1"' not in line and '"q2"' not in line]
        (out / "predictions.jsonl").write_text("\n".join(kept) + "\n" + '{"id": "q1", "predi')
        code, stdout, err = cli(capsys, *args, "--json")
        again = json.loads(stdout)
        assert code == 0 and again["generated_now"] == 2 and again["reused"] == 3
        assert read_predictions(out / "predictions.jsonl").answers == first  # greedy: the same answers
        assert len(server.requests) == 5  # every verdict from the cache
        assert again["metrics"] == result["metrics"]
        assert again["scorer"]["verdicts"] == {"from_cache": 5, "asked": 0, "invalid": 0}
        code, _, err = cli(capsys, *args[:-6], "--max-new-tokens", 5)  # other settings: refused
        assert code == 2 and "generated with max_new_tokens=4, this run asks max_new_tokens=5" in err


def test_judge_recovering_from_garbage_reported_per_run(run, micro, tmp_path, capsys, monkeypatch):
    """A judge whose first replies do not parse: the invalid verdicts are asked again by the next run, and
    each run's results and printed line say how many verdicts came from the cache or were asked."""
    data = videoqa_folder(micro, tmp_path / "msvd", n=4)
    monkeypatch.setenv("MMBIND_JUDGE_API_KEY", "sk-test")
    lines, results, asked = [], [], []
    with fake_judge() as server:
        server.garbage_first = 2
        for _ in range(3):
            before = len(server.requests)
            code, stdout, err = cli(capsys, "eval", run, "--benchmark", "msvd_qa", "--data", data, "--output",
                                    tmp_path / "out", "--max-new-tokens", 4, "--judge-model", "judge-1",
                                    "--judge-base-url", server.base_url, "--judge-cache", tmp_path / "cache")
            assert code == 0, err
            lines += [line for line in stdout.splitlines() if line.startswith("judge verdicts:")]
            results.append(json.loads((tmp_path / "out" / "results.json").read_text()))
            asked.append(sorted(re.search(r"Question: (.*)\n", r["messages"][-1]["content"]).group(1)
                                for r in server.requests[before:]))
    assert lines == [
        "judge verdicts: 0 from the cache, 4 asked now, 2 invalid (not cached: the next run asks again)",
        "judge verdicts: 2 from the cache, 2 asked now, 0 invalid",
        "judge verdicts: 4 from the cache, 0 asked now, 0 invalid"]
    assert [r["scorer"]["verdicts"] for r in results] == [{"from_cache": 0, "asked": 4, "invalid": 2},
                                                          {"from_cache": 2, "asked": 2, "invalid": 0},
                                                          {"from_cache": 4, "asked": 0, "invalid": 0}]
    assert [len(questions) for questions in asked] == [4, 2, 0]
    assert results[0]["metrics"]["invalid"] == 2 and results[0]["metrics"]["accuracy"]["n"] == 2
    assert results[1]["metrics"]["invalid"] == 0 and results[2]["metrics"] == results[1]["metrics"]
    assert asked[1] == sorted(r["question"] for r in results[0]["predictions"] if not r["valid"])


def test_offline_score_is_labelled(run, micro, tmp_path, capsys):
    data = videoqa_folder(micro, tmp_path / "tgif", n=2, split=False)
    code, stdout, _ = cli(capsys, "eval", run, "--benchmark", "tgif_qa", "--data", data, "--output",
                          tmp_path / "o", "--max-new-tokens", 2)
    assert code == 0 and "NOT comparable with the paper" in stdout and "accuracy %" in stdout


def test_pope_scores_match_eval_pope(run, micro, tmp_path, capsys):
    data = pope_folder(micro, tmp_path / "pope", per_split=3)
    code, stdout, err = cli(capsys, "eval", run, "--benchmark", "pope", "--data", data, "--output",
                            tmp_path / "p", "--max-new-tokens", 2, "--json")
    assert code == 0, err
    result = json.loads((tmp_path / "p" / "results.json").read_text())
    expected = pope_metrics({"split": r["group"], **r} for r in result["predictions"])
    for split, scores in expected.items():
        for key in ("accuracy", "precision", "recall", "f1", "yes_ratio"):
            assert result["metrics"]["splits"][split][key] == scores[key]
        assert len(result["metrics"]["splits"][split]["f1_ci95"]) == 2


def test_bad_input_messages(run, micro, tmp_path, capsys):
    code, _, err = cli(capsys, "eval", run, "--benchmark", "msvd", "--data", tmp_path)
    assert code == 2 and "unknown benchmark 'msvd'; did you mean 'msvd_qa'" in err
    data = videoqa_folder(micro, tmp_path / "bad", n=2)
    (data / "test_a.json").write_text(json.dumps([{"question_id": "q0", "answer": "x"}]))
    code, _, err = cli(capsys, "eval", run, "--benchmark", "msvd_qa", "--data", data)
    assert code == 1 and err.endswith("test_q.json: entry 1 (id q1): no answer with this id in "
                                      f"{data / 'test_a.json'}")
