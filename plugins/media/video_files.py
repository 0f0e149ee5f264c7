"""video_files.py

The ``video`` media loader: ``frames`` frames sampled uniformly from a video file, as Video-LLaVA /
LanguageBind do (`mmbind.media.read_frames`), decoded by the ``backend`` chosen (``auto``: PyAV).
Its ``frames`` and ``backend`` default to the recipe's ``data.video_frames`` / ``data.video_backend``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from mmbind import MediaLoaderEntry, hookimpl
from mmbind.interfaces import MediaLoader
from mmbind.media import VIDEO_SUFFIXES, read_frames
from mmbind.recipe.strict import StrictModel


class VideoFileOptions(StrictModel):
    """Options of the ``video`` loader."""

    frames: int = Field(8, ge=1, description="frames sampled uniformly per video (Video-LLaVA: 8)")
    backend: Literal["auto", "pyav", "decord"] = Field("auto", description="video decoder")


class VideoFiles(MediaLoader):
    """Reads ``frames`` uniformly sampled RGB frames per file, ``(T, H, W, 3)`` uint8."""

    def __init__(self, options: VideoFileOptions) -> None:
        self.options = options

    @property
    def frames(self) -> int:
        return self.options.frames

    def load(self, path: Path) -> np.ndarray:
        return read_frames(path, self.options.frames, self.options.backend)


def build(options: VideoFileOptions) -> VideoFiles:
    return VideoFiles(options)


@hookimpl
def mmbind_media_loaders() -> list[MediaLoaderEntry]:
    return [MediaLoaderEntry("video", VideoFileOptions, build, VIDEO_SUFFIXES, True,
                             "video files: frames sampled uniformly (PyAV or decord)")]
