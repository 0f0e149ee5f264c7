"""kind.py

Which kind of media a file is, from its suffix: ``VIDEO_SUFFIXES`` (in the order a benchmark loader tries
them when its files name a video without one, as the paper's do; ``.gif`` is a video, as in TGIF-QA) and
``modality_of``. Everything else is read as an image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif", ".mpg", ".mpeg", ".ts")


def modality_of(path: str | Path) -> Literal["image", "video"]:
    """``"video"`` for a video suffix (any case), else ``"image"``."""
    return "video" if Path(path).suffix.lower() in VIDEO_SUFFIXES else "image"
