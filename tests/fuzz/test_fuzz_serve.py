"""Server request bodies under hostile input, through the real FastAPI app (Starlette's TestClient, its
batch worker running): any body -- not JSON, nested thousands deep, huge integers, lone surrogates, a
million-character question, fields of the wrong type -- is answered with a 4xx in the OpenAI error layout
(or a completion when it happens to be valid), never a 5xx, and the server keeps answering."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.fuzz import PROFILE, hostile_text, values

FUZZ = settings.get_profile(PROFILE)
URL = "/v1/chat/completions"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(run):
    from fastapi.testclient import TestClient

    import mmbind
    from mmbind.inference import default_template, resolve_target
    from mmbind.serve import ServeSettings, create_app

    model = mmbind.load_pretrained(resolve_target(run).model_dir).eval()
    settings_ = ServeSettings(frames=4, max_tokens=4, default_max_tokens=2)
    with TestClient(create_app(model, settings_, "tiny", default_template(model))) as test_client:
        yield test_client


def check(response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["message"] and "\n" not in error["message"] and error["type"]


@FUZZ
@given(body=hostile_text('{"messages": [{"role": "user", "content": {}}]}')
       | hostile_text('{"messages": [{"role": "user", "content": [{"type": "text", "text": {}}]}]}')
       | hostile_text('{"messages": {}, "max_tokens": 2}')
       | hostile_text('{"messages": [{"role": "user", "content": "hi"}], "max_tokens": {}}')
       | hostile_text('{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}')
       | values.map(json.dumps))
def test_any_body_is_answered_without_a_server_error(client, body):
    check(client.post(URL, content=body.encode("utf-8", "surrogatepass"), headers=JSON))


@FUZZ
@given(raw=st.binary(max_size=40))
def test_bytes_that_are_not_json_are_a_400(client, raw):
    response = client.post(URL, content=raw, headers=JSON)
    check(response)


@pytest.mark.parametrize("text, code", [
    ("x" * 1_000_000, "prompt_too_long"),  # refused on its length before it is tokenised
    ("bad \udc80 text", "invalid_text"),
])
def test_text_the_guard_refuses_is_a_400_naming_why(client, text, code):
    body = json.dumps({"messages": [{"role": "user", "content": text}]})
    response = client.post(URL, content=body, headers=JSON)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert client.get("/health").json()["status"] == "ok"
    ok = client.post(URL, json={"messages": [{"role": "user", "content": "hello"}], "max_tokens": 2})
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] is not None
