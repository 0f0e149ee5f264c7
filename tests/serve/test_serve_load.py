"""Load on `mmbind serve`: 200 requests from 8 concurrent clients on loopback, 20 of them bad. Every good
answer equals a direct one-prompt ``model.generate`` (greedy), every bad request gets a 4xx, nothing gets a
5xx, requests really were batched, and the server is healthy afterwards."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.serve import data_uri, expected, start_server, user_message

TOTAL, BAD, CLIENTS = 200, 20, 8


def good_cases(micro: Path) -> list[tuple[str, str | None, Path | None, int]]:
    """(question, modality, media, max_tokens) of distinct good requests."""
    images = sorted((micro / "eval" / "images").glob("*.png"))[:3]
    videos = sorted((micro / "eval" / "videos").glob("*.mp4"))[:2]
    questions = ["What colour is the square?", "How many objects are there?", "What shape is it?"]
    cases: list[tuple[str, str | None, Path | None, int]] = []
    for i, q in enumerate(questions):
        cases += [(q, "image", images[i % len(images)], 4 + i), (q, "video", videos[i % len(videos)], 6 - i),
                  (q + " Answer briefly.", None, None, 5)]
    return cases


def bad_bodies(micro: Path) -> list[dict]:
    image = data_uri(sorted((micro / "eval" / "images").glob("*.png"))[0])
    return [
        {"messages": []},
        {"model": "other", "messages": [{"role": "user", "content": "hi"}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image}},
                                                   {"type": "image_url", "image_url": {"url": image}}]}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url",
                                                    "image_url": {"url": "../x.png"}}]}]},
        {"messages": [{"role": "user", "content": [{"type": "video_url",
                                                    "video_url": {"url": "data:video/mp4;base64,AAAA"}}]}]},
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
    ]


@pytest.mark.slow
def test_200_requests_from_8_clients(run, micro, generator):
    cases = good_cases(micro)
    want = [expected(generator, q, m, p, n) for q, m, p, n in cases]
    bad = bad_bodies(micro)
    rng = random.Random(0)
    plan = ([("good", i % len(cases)) for i in range(TOTAL - BAD)]
            + [("bad", i % len(bad)) for i in range(BAD)])
    rng.shuffle(plan)
    bodies = {i: {"messages": user_message(q, m, p), "max_tokens": n, "temperature": 0}
              for i, (q, m, p, n) in enumerate(cases)}

    with start_server(run) as url:
        def send(item: tuple[str, int]) -> tuple[str, int, int, str]:
            kind, index = item
            with httpx.Client(timeout=120) as http:
                body = bodies[index] if kind == "good" else bad[index]
                response = http.post(url + "/v1/chat/completions", json=body)
                content = (response.json()["choices"][0]["message"]["content"]
                           if response.status_code == 200 else "")
                return kind, index, response.status_code, content

        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(send, plan, timeout=600))
        health = httpx.get(url + "/health").json()

    statuses = [status for _, _, status, _ in results]
    assert not [s for s in statuses if s >= 500]
    assert all(400 <= status < 500 for kind, _, status, _ in results if kind == "bad")
    wrong = [(index, content, want[index]) for kind, index, status, content in results
             if kind == "good" and (status != 200 or content != want[index])]
    assert not wrong, wrong[:3]
    assert health["status"] == "ok" and health["waiting"] == 0
    assert health["largest_batch"] > 1 and health["batches"] < TOTAL - BAD  # requests were generated together
