"""sizes.py

Dataset size presets of ``mmbind data synth --size``:

- ``micro``: tests (a few dozen items, 32 px, 4 frames; generates in well under 5 s).
- ``small``: quick experiments and micro sweeps.
- ``default``: the demo's, enough for the tiny models to learn the concepts in minutes on 2 CPU cores;
  media at 64 px, so the tiny towers' 28 px transforms really resize.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mmbind.errors import UsageError


@dataclass(frozen=True)
class SynthSize:
    """How much to generate and at what resolution."""

    name: str  # preset name
    media_size: int  # image and video side in pixels (even: H.264 yuv420p)
    frames: int  # frames per video
    train_images: int  # training images (captioned and used in instruction conversations)
    train_videos: int  # training videos
    eval_images: int  # held-out images (open questions and POPE probes)
    eval_videos: int  # held-out videos
    text_only: int  # text-only instruction conversations

    def to_json(self) -> dict[str, Any]:
        """The preset as a JSON-able mapping."""
        return asdict(self)


SIZES: dict[str, SynthSize] = {
    "micro": SynthSize("micro", 32, 4, 16, 12, 6, 6, 4),
    "small": SynthSize("small", 64, 8, 200, 160, 40, 40, 24),
    "default": SynthSize("default", 64, 8, 1200, 900, 100, 100, 120),
}


def get_size(name: str) -> SynthSize:
    """The preset called ``name``."""
    if name not in SIZES:
        raise UsageError(f"unknown dataset size {name!r} (choose from: {', '.join(SIZES)})")
    return SIZES[name]
