"""`mmbind serve` under decompression bombs: a real server process on loopback, hostile media from several
clients at once. Image and video bombs (small files declaring huge frames) are answered 413 naming the limit
without being decoded, a request over the decoded-size limit is 413 naming ``--max-decoded-mb``, many
large-but-allowed images decoded at once stay within the decoding budget, and the server's peak resident
memory (its ``VmHWM``, reset after warm-up) grows accordingly little; the server stays healthy."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.media import flat_png, write_video

MB = 2**20
BUDGET_MB, REQUEST_MB = 128, 64  # the server's --decode-budget-mb / --max-decoded-mb
CLIENTS = 8


def _uri(path: Path, kind: str) -> str:
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _body(modality: str, uri: str) -> dict:
    part = {"type": f"{modality}_url", f"{modality}_url": {"url": uri}}
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": "What is it?"}, part]}],
            "max_tokens": 2}


def _memory(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` memory field in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


@pytest.fixture(scope="module")
def server(run, tmp_path_factory):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("serve") / "log.txt"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "mmbind", "serve", str(run), "--port", str(port), "--frames", "4",
               "--decode-budget-mb", str(BUDGET_MB), "--max-decoded-mb", str(REQUEST_MB)]
    with log.open("w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _send_all(url: str, bodies: list[dict]) -> list[httpx.Response]:
    def send(body: dict) -> httpx.Response:
        with httpx.Client(timeout=300) as http:
            return http.post(url + "/v1/chat/completions", json=body)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(send, bodies))


def _reset_peak(pid: int) -> int:
    """Resets the process's peak resident memory; returns its resident memory now."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _memory(pid, "VmRSS")


@pytest.mark.slow
def test_bombs_from_several_clients_are_refused_unread_and_memory_stays_flat(server, micro, tmp_path):
    url, pid = server
    image = sorted((micro / "eval" / "images").glob("*.png"))[0]
    assert _send_all(url, [_body("image", _uri(image, "image/png"))])[0].status_code == 200  # warm-up
    image_bomb = flat_png(tmp_path / "bomb.png", 12000, 12000)  # 432 MB as RGB
    video_bomb = write_video(tmp_path / "bomb.mp4", 2, width=4800, height=4800)  # 2 x 69 MB frames
    assert image_bomb.stat().st_size < 200_000 and video_bomb.stat().st_size < 200_000
    bodies = [_body("image", _uri(image_bomb, "image/png")), _body("video", _uri(video_bomb, "video/mp4"))]
    base = _reset_peak(pid)
    answers = _send_all(url, bodies * 8)
    peak = _memory(pid, "VmHWM")
    for answer in answers:
        assert answer.status_code == 413, answer.text
        error = answer.json()["error"]
        assert error["code"] == "media_too_large"
        assert "(max_pixels; raise it with --max-pixels" in error["message"]
        assert "/tmp" not in error["message"]  # the temporary file is named as the client knows it
    assert "image of 12000 x 12000 = 144,000,000 pixels" in answers[0].json()["error"]["message"]
    assert "video frames of 4800 x 4800" in answers[1].json()["error"]["message"]
    assert peak - base < 64 * MB, f"peak grew by {(peak - base) / MB:.0f} MB"


@pytest.mark.slow
def test_large_allowed_images_at_once_stay_within_the_decoding_budget(server, tmp_path):
    url, pid = server
    # 12 distinct 4000 x 4000 images: 48 MB each decoded, allowed one by one; 576 MB if decoded all at once
    images = [flat_png(tmp_path / f"large{k}.png", 4000, 4000, rgb=True, level=20 * k) for k in range(12)]
    over = flat_png(tmp_path / "over.png", 5000, 5000, rgb=True)  # 75 MB decoded > --max-decoded-mb 64
    bodies = [_body("image", _uri(path, "image/png")) for path in images]
    base = _reset_peak(pid)
    answers = _send_all(url, bodies + [_body("image", _uri(over, "image/png"))])
    peak = _memory(pid, "VmHWM")
    assert [a.status_code for a in answers[:-1]] == [200] * len(images), [a.text for a in answers]
    assert answers[-1].status_code == 413
    assert answers[-1].json()["error"]["message"] == (
        f"the media of this request decode to 75,000,000 bytes, over the limit of {REQUEST_MB * MB:,} "
        "(--max-decoded-mb)")
    # two 48 MB images fit the 128 MB budget at once, a third waits: decoding adds about 2 x 48 MB, where
    # twelve at once would add about 576 MB
    assert peak - base < 256 * MB, f"peak grew by {(peak - base) / MB:.0f} MB"
    health = httpx.get(url + "/health").json()
    assert health["status"] == "ok" and health["waiting"] == 0
