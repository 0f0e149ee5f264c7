"""sampling.py

Which frames of a video are read: Video-LLaVA / LanguageBind's uniform sampling.

``frame_indices(n, T)`` is ``np.linspace(0, n - 1, T).astype(int)``: ``T`` indices spread evenly over the
``n`` frames, always including the first (0) and the last (``n - 1``). Rules:

- ``n >= T``: distinct, increasing indices.
- ``n < T`` (a video shorter than ``T`` frames): still ``linspace`` over the available frames, so indices
  repeat and frames are duplicated in time order, e.g. ``frame_indices(3, 8) == [0, 0, 0, 0, 1, 1, 1, 2]``.
- ``n == 1``: the single frame ``T`` times. ``n < 1`` or ``T < 1`` is a caller bug (``ValueError``);
  readers turn a zero-frame file into a `MediaError` before sampling.
"""

from __future__ import annotations

import numpy as np


def frame_indices(num_available: int, num_frames: int) -> np.ndarray:
    """``num_frames`` uniformly spaced indices into ``num_available`` frames (int64; first and last in)."""
    if num_available < 1:
        raise ValueError(f"cannot sample from {num_available} frames")
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    return np.linspace(0, num_available - 1, num_frames).astype(np.int64)
