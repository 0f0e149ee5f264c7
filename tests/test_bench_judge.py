"""The judge, end to end against a real HTTP server on localhost speaking the OpenAI chat API: the paper's
verdicts at temperature 0 with the versioned prompt, every verdict cached (a re-run asks nothing),
unparsable verdicts counted as invalid, an endpoint that is down retried then reported, and resumed later
from the cache."""

from __future__ import annotations

import pytest
from bench_fixtures import fake_judge

from mmbind.errors import JudgeError
from mmbind.eval.bench_score import score
from mmbind.eval.judge import PROMPT_VERSION, Judge, JudgeConfig, parse_verdict

ROWS = [("what colour?", "red", "it is red"), ("which way?", "left", "right"), ("how many?", "two", "2 two")]


def config(url: str, tmp_path, **kw) -> JudgeConfig:
    return JudgeConfig("judge-1", url, "sk-test", cache_dir=tmp_path / "cache", backoff_s=0.01, **kw)


def test_verdicts_cached_and_reproduced(tmp_path):
    with fake_judge() as server:
        verdicts = Judge(config(server.base_url, tmp_path, concurrency=2)).judge(ROWS)
        assert [(v.valid, v.correct, v.score) for v in verdicts] == [(True, True, 5), (True, False, 1),
                                                                      (True, True, 5)]
        asked = len(server.requests)
        assert asked == 3 and all(r["temperature"] == 0 and r["model"] == "judge-1" for r in server.requests)
        again = Judge(config(server.base_url, tmp_path)).judge(ROWS)  # a new process: from disk
        assert again == verdicts and len(server.requests) == asked
        Judge(config(server.base_url, tmp_path).__class__("judge-2", server.base_url, "k",
                                                          cache_dir=tmp_path / "cache")).judge(ROWS[:1])
        assert len(server.requests) == asked + 1  # another judge model is another key


def test_invalid_verdicts_counted(tmp_path):
    with fake_judge() as server:
        server.mode = "garbage"
        rows = [{"id": str(i), "group": "g", "question": q, "answer": a, "prediction": p}
                for i, (q, a, p) in enumerate(ROWS)]
        metrics, scorer = score("qa", rows, Judge(config(server.base_url, tmp_path)))
    assert metrics["invalid"] == 3 and metrics["accuracy"]["n"] == 0
    assert scorer["prompt_version"] == PROMPT_VERSION and scorer["comparable_with_paper"]


def test_retries_then_clear_error_then_resume(tmp_path):
    with fake_judge() as server:
        server.fail_first = 2  # two 503s, then fine: retried transparently
        assert len(Judge(config(server.base_url, tmp_path, concurrency=1)).judge(ROWS[:1])) == 1
        server.mode = "down"
        with pytest.raises(JudgeError, match=r"failed after 3 attempts.*InternalServerError.*resume"):
            Judge(config(server.base_url, tmp_path, retries=2)).judge(ROWS)
        server.mode = "ok"
        before = len(server.requests)
        Judge(config(server.base_url, tmp_path)).judge(ROWS)
        assert len(server.requests) - before == 2  # the first verdict came from the cache


def test_parse_verdict_variants():
    assert parse_verdict("{'pred': 'yes', 'score': 4.8}").score == 4.8
    assert parse_verdict('Sure: {"pred": "no", "score": 0}').valid
    assert not parse_verdict("{'pred': 'maybe', 'score': 3}").valid
    assert not parse_verdict("{'pred': 'yes', 'score': 9}").valid
    assert not parse_verdict(None).valid
