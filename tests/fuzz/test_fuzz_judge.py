"""Answers of the judge endpoint under hostile input: whatever a 200 carries -- plain text, ``choices`` as a
string or an empty list, a message without content, any JSON value -- is either a verdict or counted as
not a chat completion, retried like a failed call and finally one `JudgeError` naming what the endpoint
answered; never an ``AttributeError``. A judge cache folder that cannot be written is one `WriteError`
before anything is asked."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmbind.errors import JudgeError, WriteError
from mmbind.eval.judge.client import Judge, JudgeConfig
from mmbind.eval.judge.reply import NotACompletion, reply_text
from tests.support.bench import fake_judge
from tests.support.fuzz import PROFILE, values

FUZZ = settings.get_profile(PROFILE)
ROW = ("What is shown?", "a cat", "a cat")


@FUZZ
@given(body=values | st.fixed_dictionaries({"choices": values})
       | st.fixed_dictionaries({"choices": st.lists(st.fixed_dictionaries({"message": values}), max_size=2)}))
def test_reply_text_is_text_or_refused(body):
    try:
        assert isinstance(reply_text(body), str)
    except NotACompletion as exc:
        assert str(exc)


@pytest.mark.parametrize("body, said", [
    ("just some text", "a plain-text body"),
    ({"choices": "nope"}, "'choices' is a str"),
    ({"choices": []}, "'choices' is empty"),
    ({"choices": [{"index": 0, "message": {"role": "assistant"}}]}, "'content' is NoneType"),
])
def test_a_200_that_is_not_a_completion_is_retried_then_one_judge_error(tmp_path, body, said):
    with fake_judge() as server:
        server.body = body
        judge = Judge(JudgeConfig("judge-1", server.base_url, "k", retries=1, backoff_s=0.0,
                                  cache_dir=tmp_path / "cache"))
        with pytest.raises(JudgeError, match=f"failed after 2 attempts: it answered .*{said}"):
            judge.judge([ROW])
        assert len(server.requests) == 2 and judge.malformed == 2
        server.body = None  # the endpoint recovers: the same judge answers
        assert judge.judge([ROW])[0].valid


def test_an_unwritable_judge_cache_is_one_error_at_start(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(WriteError, match=r"cannot write the judge cache .*file/cache: a part of the path "
                                         r"is a file, not a folder \(ENOTDIR\)"):
        Judge(JudgeConfig("judge-1", "http://127.0.0.1:9/v1", "k", cache_dir=tmp_path / "file" / "cache"))
