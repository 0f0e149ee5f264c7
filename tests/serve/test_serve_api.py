"""The `mmbind serve` API over real HTTP on loopback: answers equal a direct ``model.generate``, streaming
through the ``openai`` client, usage, stop strings, seeds, the API key, every kind of bad request
answered with a 4xx and a one-line reason while the server stays healthy, and one answer (404) for every
local path a client may not read, so answers reveal nothing of the server's files."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import httpx
import pytest

openai = pytest.importorskip("openai")

from tests.support.serve import MODEL_NAME, data_uri, expected, start_server, user_message  # noqa: E402

LIMIT = 300_000  # media bytes allowed by the test server


@pytest.fixture(scope="module")
def media(micro, tmp_path_factory) -> Path:
    """A media root: an image, a video, an oversized file, a symlink out of it; a secret file and an
    oversized one outside; inside, what a client may not read either: a folder, a fifo, a symlink to a
    device, a dangling symlink, a symlink loop, and (as root) a device or (otherwise) an unreadable file."""
    root = tmp_path_factory.mktemp("media")
    shutil.copy(sorted((micro / "eval" / "images").glob("*.png"))[0], root / "a.png")
    shutil.copy(sorted((micro / "eval" / "videos").glob("*.mp4"))[0], root / "a.mp4")
    (root / "big.png").write_bytes(b"\x89PNG" + b"\0" * (LIMIT + 10))
    (root / "junk.mp4").write_bytes(b"not a video at all" * 10)
    secret = root.parent / "secret.png"
    shutil.copy(root / "a.png", secret)
    shutil.copy(root / "big.png", root.parent / "big-outside.png")
    os.symlink(secret, root / "link.png")
    (root / "folder.png").mkdir()
    os.mkfifo(root / "pipe.png")
    os.symlink("/dev/null", root / "null.png")
    os.symlink(root / "deleted.png", root / "dangling.png")
    os.symlink("loop.png", root / "loop.png")
    if os.geteuid() == 0:  # root reads any file, but may make a device
        try:
            os.mknod(root / "device.png", stat.S_IFCHR | 0o644, os.makedev(1, 3))
        except OSError:
            pass  # no CAP_MKNOD here: the symlink to /dev/null stands in
    else:
        shutil.copy(root / "a.png", root / "locked.png")
        (root / "locked.png").chmod(0)
    return root


@pytest.fixture(scope="module")
def server(run, media):
    with start_server(run, media_root=media, max_media_bytes=LIMIT, max_body_bytes=2 * LIMIT) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server + "/v1", api_key="unused", max_retries=0, timeout=60)


def test_models_and_health(server):
    assert httpx.get(server + "/health").json()["status"] == "ok"
    assert [m["id"] for m in httpx.get(server + "/v1/models").json()["data"]] == [MODEL_NAME]


def test_image_answer_equals_direct_generate(client, generator, media):
    question = "What colour is the square?"
    out = client.chat.completions.create(model=MODEL_NAME,
                                         messages=user_message(question, "image", media / "a.png"),
                                         max_tokens=7, temperature=0)
    assert out.choices[0].message.content == expected(generator, question, "image", media / "a.png", 7)
    assert out.choices[0].finish_reason in ("length", "stop")
    assert out.usage.completion_tokens <= 7 and out.usage.prompt_tokens > 20
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens


def test_video_streams_through_openai_client(client, generator, media):
    question = "What is moving in the video?"
    stream = client.chat.completions.create(model=MODEL_NAME,
                                            messages=user_message(question, "video", media / "a.mp4"),
                                            max_tokens=9, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected(generator, question, "video", media / "a.mp4", 9)
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 2  # it really streamed
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("length", "stop")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= 1


def test_local_path_under_media_root_and_history(client, generator, media):
    messages = [{"role": "system", "content": "ignored"},
                {"role": "user", "content": [{"type": "text", "text": "Describe it."},
                                             {"type": "image_url", "image_url": {"url": "a.png"}}]},
                {"role": "assistant", "content": "a square"},
                {"role": "user", "content": "Which colour?"}]
    out = client.chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=5)
    from mmbind.inference import Query

    want = generator.answer([Query("Which colour?", "image", media / "a.png",
                                   (("Describe it.", "a square"),))],
                            max_new_tokens=5, batch_size=1)[0]
    assert out.choices[0].message.content == want


def test_stop_string_and_seed(client, generator, media):
    question = "What colour is the square?"
    full = expected(generator, question, "image", media / "a.png", 12).split()
    assert len(full) >= 3
    messages = user_message(question, "image", media / "a.png")
    cut = client.chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=12,
                                         stop=[" " + full[2]])
    assert cut.choices[0].message.content == " ".join(full[:2]) and cut.choices[0].finish_reason == "stop"
    sampled = [client.chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=8,
                                              temperature=1.0, top_p=0.9, seed=7).choices[0].message.content
               for _ in range(2)]
    assert sampled[0] == sampled[1]


def test_api_key(run):
    with start_server(run, api_key="s3cret") as url:
        body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            response = httpx.post(url + "/v1/chat/completions", json=body, headers=headers)
            assert response.status_code == 401 and "API key" in response.json()["error"]["message"]
        assert httpx.get(url + "/v1/models").status_code == 401
        good = httpx.post(url + "/v1/chat/completions", json=body, headers={"Authorization": "Bearer s3cret"})
        assert good.status_code == 200
        client = openai.OpenAI(base_url=url + "/v1", api_key="s3cret", max_retries=0)
        assert client.models.list().data[0].id == MODEL_NAME


def _text(question: str = "hi") -> list[dict]:
    return [{"role": "user", "content": question}]


def bad_requests(media: Path) -> list[tuple[str, dict]]:
    """(what, httpx.post keyword arguments) of requests that must get a 4xx."""
    image = data_uri(media / "a.png")
    part = lambda kind, url: {"role": "user", "content": [  # noqa: E731
        {"type": "text", "text": "?"}, {"type": f"{kind}_url", f"{kind}_url": {"url": url}}]}
    return [
        ("malformed JSON", {"content": b'{"messages": [', "headers": {"content-type": "application/json"}}),
        ("not JSON", {"content": b"messages=1",
                      "headers": {"content-type": "application/x-www-form-urlencoded"}}),
        ("JSON list", {"json": [1, 2]}),
        ("unknown model", {"json": {"model": "gpt-9", "messages": _text()}}),
        ("no messages", {"json": {"messages": []}}),
        ("bad role", {"json": {"messages": [{"role": "tool", "content": "x"}]}}),
        ("ends with assistant", {"json": {"messages": [*_text(), {"role": "assistant", "content": "x"}]}}),
        ("too many media", {"json": {"messages": [part("image", image), part("image", image)]}}),
        ("unsupported part", {"json": {"messages": [part("audio", image)]}}),
        ("wrong media type", {"json": {"messages": [part("video", image)]}}),
        ("unreadable image",
         {"json": {"messages": [part("image", "data:image/png;base64,aGVsbG8gd29ybGQ=")]}}),
        ("bad base64", {"json": {"messages": [part("image", "data:image/png;base64,***")]}}),
        ("unreadable video file", {"json": {"messages": [part("video", "junk.mp4")]}}),
        ("oversized media file", {"json": {"messages": [part("image", "big.png")]}}),
        ("oversized body", {"json": {"messages": _text("x" * (2 * LIMIT + 10))}}),
        ("path with ..", {"json": {"messages": [part("image", "../secret.png")]}}),
        ("absolute path outside", {"json": {"messages": [part("image", str(media.parent / "secret.png"))]}}),
        ("symlink out of the root", {"json": {"messages": [part("image", "link.png")]}}),
        ("missing file", {"json": {"messages": [part("image", "nope.png")]}}),
        ("remote URL", {"json": {"messages": [part("image", "http://127.0.0.1:1/x.png")]}}),
        ("media tag in text", {"json": {"messages": _text("<image> what?")}}),
        ("max_tokens too large", {"json": {"messages": _text(), "max_tokens": 10_000}}),
        ("max_tokens not a number", {"json": {"messages": _text(), "max_tokens": "many"}}),
        ("temperature out of range", {"json": {"messages": _text(), "temperature": 9}}),
        ("stop not strings", {"json": {"messages": _text(), "stop": [1]}}),
        ("n > 1", {"json": {"messages": _text(), "n": 2}}),
    ]


def test_bad_requests_get_a_4xx_with_one_line(server, media):
    with httpx.Client(timeout=60) as http:
        for what, request in bad_requests(media):
            response = http.post(server + "/v1/chat/completions", **request)
            assert 400 <= response.status_code < 500, (what, response.status_code, response.text[:300])
            message = response.json()["error"]["message"]
            assert message and "\n" not in message, (what, message)
        assert http.get(server + "/health").json()["status"] == "ok"
        ok = http.post(server + "/v1/chat/completions", json={"messages": _text(), "max_tokens": 2})
        assert ok.status_code == 200


def unreadable_refs(media: Path) -> list[str]:
    """Local media references a client of a server with ``--media-root media`` may not read."""
    outside = media.parent
    refs = ["nope.png", "sub/nope.png", "../secret.png", "../nothing.png", "folder.png/../../secret.png",
            "../big-outside.png", str(outside / "secret.png"), str(outside / "nothing.png"),
            "file://" + str(outside / "secret.png"), "/etc/passwd", "/dev/null", "link.png", "null.png",
            "dangling.png", "loop.png", "folder.png", ".", str(media), "pipe.png"]
    return refs + [name for name in ("device.png", "locked.png") if os.path.lexists(media / name)]


def test_unreadable_local_paths_get_one_answer(server, media):
    """Missing, outside the root (existing or not), not a regular file, unreadable: the same 404, whose
    message names only the client's own reference; the server still serves files inside the root."""
    with httpx.Client(timeout=60) as http:
        def post(url: str) -> httpx.Response:
            return http.post(server + "/v1/chat/completions", json={"max_tokens": 2, "messages": [
                {"role": "user", "content": [{"type": "text", "text": "?"},
                                             {"type": "image_url", "image_url": {"url": url}}]}]})

        for url in unreadable_refs(media):
            ref = url.removeprefix("file://")
            response = post(url)
            assert response.status_code == 404, (url, response.text[:300])
            assert response.json() == {"error": {
                "message": f"image_url: no media file {ref!r} under the media root",
                "type": "invalid_request_error", "code": "media_not_found", "param": None}}, url
        big = post("big.png")  # inside the root: its size is the client's business
        assert big.status_code == 413 and big.json()["error"]["code"] == "media_too_large"
        assert post("a.png").status_code == 200 and post("file://" + str(media / "a.png")).status_code == 200
        assert http.get(server + "/health").json()["status"] == "ok"


def test_local_paths_refused_without_media_root(run, media):
    """Without --media-root every local path is refused alike (403), whether its file exists or not."""
    with start_server(run) as url, httpx.Client(timeout=60) as http:
        for ref in ("a.png", str(media / "a.png"), "nope.png", "../secret.png"):
            response = http.post(url + "/v1/chat/completions", json={"messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": ref}}]}]})
            assert response.status_code == 403, (ref, response.text[:300])
            assert response.json()["error"] == {
                "message": "image_url: local paths are not accepted (the server was started without "
                           "--media-root); send a data: URI",
                "type": "invalid_request_error", "code": "local_media_disabled", "param": None}


def test_page_is_served_without_external_resources(server):
    page = httpx.get(server + "/")
    assert page.status_code == 200 and "<form" in page.text
    assert "http://" not in page.text and "https://" not in page.text


def test_serve_command_errors_are_one_line(tmp_path, capsys):
    from mmbind.cli.main import main

    assert main(["serve", str(tmp_path / "nothing")]) == 1
    assert main(["serve", str(tmp_path), "--port", "70000"]) == 2
    err = capsys.readouterr().err
    assert "no such run or checkpoint" in err and "--port" in err
