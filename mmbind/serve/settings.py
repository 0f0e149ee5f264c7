"""settings.py

`ServeSettings`: every knob of `mmbind serve` with its default -- where it listens, the API key, the media
root, the request and media size limits (encoded, decoded per request and per item, and the decoding
budget shared by concurrent requests), and the batching policy (batch size, new-token cap, queue size).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_KEY_ENV = "MMBIND_API_KEY"  # the API key when --api-key is not given


@dataclass(frozen=True)
class ServeSettings:
    """Limits and policy of one server."""

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None  # None: no authentication
    media_root: Path | None = None  # local media paths are allowed only below this folder
    max_body_bytes: int = 64 * 1024 * 1024  # a request body (JSON, media inlined as data: URIs)
    max_media_bytes: int = 32 * 1024 * 1024  # one media file, encoded (as sent)
    max_decoded_bytes: int = 512 * 1024 * 1024  # a request's media once decoded (413 past it)
    decode_budget_bytes: int = 1024 * 1024 * 1024  # media being decoded at once, all requests together
    media_limits: dict[str, Any] = field(default_factory=dict)  # loader limits (max_pixels, ...) set
    max_media: int = 1  # media items per conversation (Video-LLaVA: one)
    max_messages: int = 64  # messages per request
    max_prompt_tokens: int = 2048  # text tokens of the rendered prompt
    max_tokens: int = 256  # the cap on a request's max_tokens (and so on a batch's length)
    default_max_tokens: int = 128  # when a request gives no max_tokens
    max_batch: int = 16  # requests generated together
    max_queue: int = 256  # waiting requests; beyond that a request is refused with 429
    batch_wait_s: float = 0.01  # after a batch of several, how long to wait for more before the next
    frames: int | dict[str, Any] = 8  # frames sampled per video, or sampling options ({"fps": 1.0, ...})
    video_backend: str = "auto"


def api_key_from_env(explicit: str | None) -> str | None:
    """``explicit``, else the ``MMBIND_API_KEY`` environment variable, else None; an empty key is none."""
    key = explicit if explicit is not None else os.environ.get(API_KEY_ENV)
    return key or None
