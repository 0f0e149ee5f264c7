"""The judge, end to end against a real HTTP server on localhost speaking the OpenAI chat API: the paper's
verdicts at temperature 0 with the versioned prompt, every valid verdict cached (a re-run asks nothing),
unparsable verdicts counted as invalid and never cached (a judge that recovers is asked again for exactly
those; an older cache's invalid rows are not reused), the scorer saying where each run's verdicts came
from, an endpoint that is down retried then reported, and resumed later from the cache."""

from __future__ import annotations

import json
import re

import pytest

from mmbind.errors import JudgeError
from mmbind.eval.judge import PROMPT_VERSION, Judge, JudgeConfig, Verdict, parse_verdict, verdict_key
from mmbind.eval.judge.cache import CACHE_FILE, INVALID_FILE
from mmbind.eval.scoring import score
from tests.support.bench import GARBAGE, fake_judge

ROWS = [("what colour?", "red", "it is red"), ("which way?", "left", "right"), ("how many?", "two", "2 two")]
MORE = [*ROWS, ("what shape?", "circle", "a circle"), ("who is there?", "a cat", "nobody")]


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


def qa_rows(triples: list[tuple[str, str, str]]) -> list[dict]:
    return [{"id": str(i), "group": "g", "question": q, "answer": a, "prediction": p}
            for i, (q, a, p) in enumerate(triples)]


def cache_lines(tmp_path, name: str) -> list[dict]:
    path = tmp_path / "cache" / name
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def asked_predictions(requests: list[dict]) -> list[str]:
    """The predictions the judge was asked about, sorted."""
    texts = [r["messages"][-1]["content"] for r in requests]
    return sorted(re.search(r"Predicted Answer: (.*)\n", text).group(1) for text in texts)


def test_judge_that_recovers_is_asked_again_for_the_invalid_verdicts(tmp_path):
    with fake_judge() as server:
        server.garbage_first = 2  # failing for a while: the first two replies do not parse
        first = qa_rows(MORE)
        metrics, scorer = score("qa", first, Judge(config(server.base_url, tmp_path, concurrency=2)))
        invalid = sorted(r["prediction"] for r in first if not r["valid"])
        assert len(invalid) == 2 and metrics["invalid"] == 2 and metrics["accuracy"]["n"] == 3
        assert scorer["verdicts"] == {"from_cache": 0, "asked": 5, "invalid": 2}
        assert [row["valid"] for row in cache_lines(tmp_path, CACHE_FILE)] == [True] * 3  # no invalid row
        assert [row["raw"] for row in cache_lines(tmp_path, INVALID_FILE)] == [GARBAGE] * 2  # kept apart

        before = len(server.requests)  # the judge has recovered: a rerun asks for exactly those two
        second = qa_rows(MORE)
        metrics, scorer = score("qa", second, Judge(config(server.base_url, tmp_path)))
        assert asked_predictions(server.requests[before:]) == invalid
        assert scorer["verdicts"] == {"from_cache": 3, "asked": 2, "invalid": 0}
        assert metrics["invalid"] == 0 and metrics["accuracy"]["n"] == 5 and all(r["valid"] for r in second)
        assert [r["correct"] for r in second] == [True, False, True, True, False]

        before = len(server.requests)  # everything cached now: the endpoint is asked nothing
        again, scorer = score("qa", qa_rows(MORE), Judge(config(server.base_url, tmp_path)))
        assert len(server.requests) == before and again == metrics
        assert scorer["verdicts"] == {"from_cache": 5, "asked": 0, "invalid": 0}


def test_invalid_rows_of_an_older_cache_are_not_reused(tmp_path):
    judge_config = config("http://unused", tmp_path)
    keys = [verdict_key(*row, judge_config.model, PROMPT_VERSION) for row in ROWS]
    old = [{"key": keys[0], **Verdict(True, True, 5.0, "{'pred': 'yes', 'score': 5}").to_json()},
           {"key": keys[1], **Verdict(False, False, 0.0, GARBAGE).to_json()},
           {"key": keys[2], **Verdict(False, False, 0.0, GARBAGE).to_json()}]
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / CACHE_FILE).write_text("".join(json.dumps(row) + "\n" for row in old)
                                                 + '{"key": "torn', encoding="utf-8")
    with fake_judge() as server:
        judge = Judge(config(server.base_url, tmp_path))
        assert len(judge.cache) == 1
        verdicts = judge.judge(ROWS)
        assert asked_predictions(server.requests) == sorted(p for _, _, p in ROWS[1:])
        assert [(v.valid, v.correct) for v in verdicts] == [(True, True), (True, False), (True, True)]
        assert judge.counts.record() == {"from_cache": 1, "asked": 2, "invalid": 0}
    lines = (tmp_path / "cache" / CACHE_FILE).read_text().splitlines()
    assert lines[3] == '{"key": "torn' and len(lines) == 6  # the torn line closed before appending
    healed = Judge(config("http://unused", tmp_path))  # a later run: all three valid from the cache
    assert healed.judge(ROWS) == verdicts and healed.counts.record()["from_cache"] == 3


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
