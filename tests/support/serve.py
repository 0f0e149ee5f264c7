"""serve_fixtures.py

Helpers of the serve / infer tests: a server on the session `run`'s model (its own model instance, so the
tests' `generator` can compute expected answers alongside), generated media as data: URIs, and the answer
a direct ``model.generate`` gives for the same prompt.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import mmbind
from mmbind.inference import Generator, Query, default_template, resolve_target
from mmbind.serve import BackgroundServer, ServeSettings, create_app

MODEL_NAME = "tiny"


def data_uri(path: Path) -> str:
    """``path`` as a base64 data: URI (type from the suffix)."""
    kind = {".png": "image/png", ".jpg": "image/jpeg", ".mp4": "video/mp4"}[path.suffix]
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def start_server(run: Path, frames: int = 4, **settings: Any) -> BackgroundServer:
    """A not yet started server on a fresh copy of ``run``'s model (``with start_server(...) as url:``)."""
    model = mmbind.load_pretrained(resolve_target(run).model_dir).eval()
    options = {"frames": frames, "max_tokens": 64, **settings}
    return BackgroundServer(create_app(model, ServeSettings(**options), MODEL_NAME, default_template(model)))


def user_message(
    question: str, modality: str | None = None, media: Path | None = None
) -> list[dict[str, Any]]:
    """An OpenAI ``messages`` list of one user turn with an optional media part."""
    parts: list[dict[str, Any]] = [{"type": "text", "text": question}]
    if modality is not None and media is not None:
        parts.append({"type": f"{modality}_url", f"{modality}_url": {"url": data_uri(media)}})
    return [{"role": "user", "content": parts}]


def expected(generator: Generator, question: str, modality: str | None, media: Path | None,
             max_tokens: int) -> str:
    """The greedy answer of a direct, one-prompt ``model.generate``."""
    return generator.answer([Query(question, modality, media)], max_new_tokens=max_tokens, batch_size=1)[0]
