"""video_files.py

The ``video`` media loader: frames of a video file, decoded by the ``backend`` chosen (``auto``: PyAV), and
sampled by a policy (`mmbind.media.FramePolicy`):

- a fixed count (default): ``frames`` frames spread uniformly, as Video-LLaVA / LanguageBind do;
- a rate: ``fps`` frames per second of video, at most ``max_frames`` (default 64; more would be needed:
  ``max_frames`` uniform frames over the whole video instead) and at least ``min_frames`` (a short video:
  frames repeat). ``fps`` above a video's own rate reads every frame once. The frame count then varies by
  video, and with it the tokens a video becomes: batches carry videos of different lengths as a list.

Bounds (`mmbind.media.limits`): ``max_pixels`` per frame (default 4096 x 4096) and ``max_video_frames`` in
the file (default 500,000), checked from the header and index before any frame is decoded.

``frames`` and ``backend`` default to the recipe's ``data.video_frames`` / ``data.video_backend``;
``--frames`` of eval / chat / serve sets a fixed count.

    data:
      media:
        video: {fps: 1.0, max_frames: 32, min_frames: 4}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from mmbind import MediaLoaderEntry, hookimpl
from mmbind.interfaces import MediaLoader
from mmbind.media import VIDEO_SUFFIXES, FramePolicy, count_frames, decoded_bytes, read_frames
from mmbind.media.limits import DEFAULT_FRAME_PIXELS, DEFAULT_VIDEO_FRAMES
from mmbind.media.sampling import DEFAULT_MAX_FRAMES
from mmbind.recipe.strict import StrictModel


class VideoFileOptions(StrictModel):
    """Options of the ``video`` loader."""

    frames: int = Field(8, ge=1, description="frames sampled uniformly per video (Video-LLaVA: 8); "
                                             "ignored when fps is set")
    fps: float | None = Field(None, gt=0, allow_inf_nan=False,
                              description="sample this many frames per second of video instead")
    max_frames: int | None = Field(None, ge=1, description="with fps: at most this many frames (default 64)")
    min_frames: int | None = Field(None, ge=1, description="with fps: at least this many (default 1; short "
                                                           "videos repeat frames)")
    backend: Literal["auto", "pyav", "decord", "torchcodec"] = Field("auto", description="video decoder")
    max_pixels: int | None = Field(None, ge=1, description=f"refuse videos whose frames have more pixels "
                                                          f"(default {DEFAULT_FRAME_PIXELS:,}: 4096 x 4096)")
    max_video_frames: int | None = Field(None, ge=1, description=f"refuse videos of more frames (default "
                                                                f"{DEFAULT_VIDEO_FRAMES:,})")

    @field_validator("max_frames", "min_frames")
    @classmethod
    def _by_rate_only(cls, value: int | None, info: ValidationInfo) -> int | None:
        """max_frames / min_frames bound sampling by rate: without fps they would be ignored."""
        if value is not None and "fps" in info.data and info.data["fps"] is None:
            raise ValueError(f"{info.field_name} applies to sampling by rate: set fps too (or use frames)")
        return value

    @field_validator("min_frames")
    @classmethod
    def _within_cap(cls, value: int | None, info: ValidationInfo) -> int | None:
        """At least min_frames, at most max_frames (or its default) frames: the bounds must meet."""
        if value is None or info.data.get("fps") is None or "max_frames" not in info.data:
            return value
        given = info.data["max_frames"]
        cap = given if given is not None else DEFAULT_MAX_FRAMES
        if value > cap:
            name = "max_frames" if given is not None else "the default max_frames"
            raise ValueError(f"min_frames {value} is above {name} {cap}")
        return value

    def policy(self) -> FramePolicy:
        """The sampling policy these options describe."""
        return FramePolicy(self.frames, self.fps, self.min_frames or 1, self.max_frames)


class VideoFiles(MediaLoader):
    """Reads sampled RGB frames per file, ``(T, H, W, 3)`` uint8."""

    def __init__(self, options: VideoFileOptions) -> None:
        self.options = options
        self.policy = options.policy()
        self.bounds = (options.max_pixels or DEFAULT_FRAME_PIXELS,  # per frame, frames in the file
                       options.max_video_frames or DEFAULT_VIDEO_FRAMES)
        self._counts: dict[tuple[str, int, int], int] = {}  # (path, size, mtime) -> frames, by rate

    @property
    def frames(self) -> int:
        return self.policy.cap

    @property
    def frames_vary(self) -> bool:
        return self.policy.varies

    def frames_of(self, path: Path) -> int:
        """The frames ``path`` gives: counted from its index once per file version (every epoch asks)."""
        if not self.policy.varies:
            return self.frames
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._counts:
            self._counts[key] = count_frames(path, self.policy, self.options.backend, *self.bounds)
        return self._counts[key]

    def decoded_bytes(self, path: Path) -> int:
        return decoded_bytes(path, self.policy, self.bounds[0])

    def load(self, path: Path) -> np.ndarray:
        return read_frames(path, self.policy, self.options.backend, *self.bounds)


def build(options: VideoFileOptions) -> VideoFiles:
    return VideoFiles(options)


@hookimpl
def mmbind_media_loaders() -> list[MediaLoaderEntry]:
    return [MediaLoaderEntry("video", VideoFileOptions, build, VIDEO_SUFFIXES, True,
                             "video files: frames sampled uniformly or by rate (PyAV, decord or torchcodec)")]
