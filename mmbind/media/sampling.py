"""sampling.py

Which frames of a video are read: Video-LLaVA / LanguageBind's uniform sampling (`frame_indices`), and
the policies a video loader offers (`FramePolicy`: that fixed count, or a rate in frames per second with a
cap, as LLaVA-Video / Qwen2-VL sample).

``frame_indices(n, T)`` is ``np.linspace(0, n - 1, T).astype(int)``: ``T`` indices spread evenly over the
``n`` frames, always including the first (0) and the last (``n - 1``). Rules:

- ``n >= T``: distinct, increasing indices.
- ``n < T`` (a video shorter than ``T`` frames): still ``linspace`` over the available frames, so indices
  repeat and frames are duplicated in time order, e.g. ``frame_indices(3, 8) == [0, 0, 0, 0, 1, 1, 1, 2]``.
- ``n == 1``: the single frame ``T`` times. ``n < 1`` or ``T < 1`` is a caller bug (``ValueError``);
  readers turn a zero-frame file into a `MediaError` before sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def frame_indices(num_available: int, num_frames: int) -> np.ndarray:
    """``num_frames`` uniformly spaced indices into ``num_available`` frames (int64; first and last in)."""
    if num_available < 1:
        raise ValueError(f"cannot sample from {num_available} frames")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    return np.linspace(0, num_available - 1, num_frames).astype(np.int64)


DEFAULT_MAX_FRAMES = 64  # the cap of rate sampling when none is given


@dataclass(frozen=True)
class FramePolicy:
    """Which frames of a video are read: a fixed count (``fps`` None: `frame_indices`, Video-LLaVA's), or
    a rate.

    Rate sampling (``fps`` set) takes the frame at every ``1 / fps`` seconds of video from the start:
    indices ``floor(j * rate / fps)`` for ``j = 0, 1, ...`` while inside the video, ``rate`` being the
    video's average frames per second. Then:

    - more than ``max_frames`` (default DEFAULT_MAX_FRAMES): ``max_frames`` frames spread uniformly over
      the whole video instead (`frame_indices`), so a long video is still seen from start to end;
    - fewer than ``min_frames`` (a short video): ``min_frames`` uniform frames, repeating frames when the
      video has fewer (as count sampling does);
    - ``fps`` above the video's own rate: every frame once (no frame is read twice to reach the rate).

    So the frame count varies from video to video, between ``min_frames`` and ``max_frames``.
    """

    frames: int = 8  # count sampling: frames per video
    fps: float | None = None  # rate sampling: frames per second of video
    min_frames: int = 1  # rate sampling: at least this many
    max_frames: int | None = None  # rate sampling: at most this many (None: DEFAULT_MAX_FRAMES)

    def __post_init__(self) -> None:
        if self.frames < 1:
            raise ValueError(f"frames must be >= 1, got {self.frames}")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")
        if self.min_frames < 1:
            raise ValueError(f"min_frames must be >= 1, got {self.min_frames}")
        if self.cap < self.min_frames:
            raise ValueError(f"max_frames {self.cap} is below min_frames {self.min_frames}")

    @property
    def cap(self) -> int:
        """The most frames an item gets."""
        if self.fps is None:
            return self.frames
        return self.max_frames if self.max_frames is not None else DEFAULT_MAX_FRAMES

    @property
    def varies(self) -> bool:
        """Whether the count depends on the video (rate sampling with a range of counts)."""
        return self.fps is not None and self.cap != self.min_frames

    def indices(self, num_available: int, rate: float | None) -> np.ndarray:
        """The frame indices to read from a video of ``num_available`` frames at ``rate`` frames/s
        (``ValueError`` when sampling by rate and the rate is unknown)."""
        if self.fps is None:
            return frame_indices(num_available, self.frames)
        if num_available < 1:
            raise ValueError(f"cannot sample from {num_available} frames")
        if not rate or rate <= 0:
            raise ValueError("the video does not tell its frame rate; sample a fixed count (frames) instead")
        step = max(rate / self.fps, 1.0)  # fps above the video's rate: every frame once
        picked = np.unique(np.floor(np.arange(0.0, num_available, step)).astype(np.int64))
        picked = picked[picked < num_available]
        if len(picked) > self.cap:
            return frame_indices(num_available, self.cap)
        if len(picked) < self.min_frames:
            return frame_indices(num_available, self.min_frames)
        return picked

    def count(self, num_available: int, rate: float | None) -> int:
        """How many frames `indices` returns."""
        return len(self.indices(num_available, rate))
