"""bench_fixtures.py

Tiny benchmark folders in the published local layouts, built from the micro synthetic dataset's media
(nothing downloaded), and a fake OpenAI-compatible judge: a real HTTP server (FastAPI + uvicorn in a
thread, ephemeral port on 127.0.0.1) answering ``/v1/chat/completions`` with the paper's verdict dict (or,
as told, 503s or unparsable replies for a while).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse


def videoqa_folder(micro: Path, root: Path, n: int = 6, split: bool = True, missing: int = 0) -> Path:
    """``root`` in Video-ChatGPT's QA layout: test_q.json, test_a.json, videos/<name>.mp4 (suffix left
    out of ``video_name``, as the paper's files do); the last ``missing`` videos are not copied."""
    videos = sorted((micro / "eval" / "videos").glob("*.mp4"))
    (root / "videos").mkdir(parents=True, exist_ok=True)
    questions, answers = [], []
    for i in range(n):
        source = videos[i % len(videos)]
        name = f"vid{i}"
        if i < n - missing:
            shutil.copy(source, root / "videos" / f"{name}.mp4")
        answer = ["red", "blue", "left", "two"][i % 4]
        entry = {"video_name": name, "question": f"what is shown in clip {i}?", "question_id": f"q{i}"}
        questions.append(entry if split else {**entry, "answer": answer})
        answers.append({"answer": answer, "question_id": f"q{i}"})
    (root / "test_q.json").write_text(json.dumps(questions), encoding="utf-8")
    if split:
        (root / "test_a.json").write_text(json.dumps(answers), encoding="utf-8")
    return root


def pope_folder(micro: Path, root: Path, per_split: int = 4) -> Path:
    """``root`` with coco_pope_{random,popular,adversarial}.json (JSON lines) and val2014/ images."""
    images = sorted((micro / "eval" / "images").glob("*.png"))
    (root / "val2014").mkdir(parents=True, exist_ok=True)
    for image in images[:per_split]:
        shutil.copy(image, root / "val2014" / image.name)
    for s, split in enumerate(("random", "popular", "adversarial")):
        lines = [json.dumps({"question_id": s * 100 + i, "image": images[i].name,
                             "text": f"Is there a {'square' if i % 2 else 'circle'} in the image?",
                             "label": "yes" if i % 2 else "no"}) for i in range(per_split)]
        (root / f"coco_pope_{split}.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


GARBAGE = "I think it is fine."  # the fake judge's unparsable reply


@dataclass
class FakeJudge:
    """The running fake judge: its base URL, the requests it got, what it does."""

    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    mode: str = "ok"  # ok | down (HTTP 503) | garbage (unparsable verdicts)
    fail_first: int = 0  # answer 503 to this many requests first (retries)
    garbage_first: int = 0  # answer unparsable verdicts to this many requests first, then recover
    body: Any = None  # when set: answer 200 with this instead of a completion (text: as text/plain)


def _verdict(body: dict[str, Any]) -> str:
    text = body["messages"][-1]["content"]
    answer = re.search(r"Correct Answer: (.*)\n", text).group(1).strip().lower()
    predicted = re.search(r"Predicted Answer: (.*)\n", text).group(1).strip().lower()
    good = bool(answer) and answer in predicted
    return str({"pred": "yes" if good else "no", "score": 5 if good else 1})


@contextmanager
def fake_judge() -> Iterator[FakeJudge]:
    """A fake judge on an ephemeral port, stopped on exit."""
    app = FastAPI()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    state = FakeJudge(f"http://127.0.0.1:{port}/v1")

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> Any:
        body = await request.json()
        state.requests.append(body)
        if state.body is not None:
            if isinstance(state.body, str):
                return PlainTextResponse(state.body)
            return JSONResponse(state.body)
        if state.mode == "down" or state.fail_first > 0:
            state.fail_first -= 1
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        garbage = state.mode == "garbage" or state.garbage_first > 0
        if state.garbage_first > 0:
            state.garbage_first -= 1
        content = GARBAGE if garbage else _verdict(body)
        return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()
