"""decord_reader.py

The ``decord`` frame-reading backend, as the original LanguageBind / Video-LLaVA code reads videos:
``VideoReader(path, ctx=cpu(0))``, ``len(vr)`` and ``get_batch(indices)``.

decord is optional (``pip install mmbind[decord]``; wheels exist for x86_64 only) and imported only when
this backend is selected. Differences from the ``pyav`` backend, all reported as `MediaError` naming the
file: decord refuses a truncated MP4 outright instead of returning the frames that decode, and a
decode failure is not recoverable (no `IncompleteVideoError`). decord's own ``get_batch`` has no time
bound (decord#269); use the ``pyav`` backend where that matters.

High bit depth (10-bit HEVC / H.264, ``yuv420p10le`` and the like): decord converts such frames to RGB with
a different rounding than FFmpeg's swscale that PyAV uses (up to 10 levels apart per channel), so for a
source of more than 8 bits per sample this backend decodes through PyAV: both backends return the same
frames for every file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmbind.errors import MediaError
from mmbind.media.limits import DEFAULT_FRAME_PIXELS, DEFAULT_VIDEO_FRAMES, check_frame_count
from mmbind.media.pyav_reader import PyAVReader, check_frame_size, source_bit_depth
from mmbind.media.reader import FrameReader

_NOISE = re.compile(r"^(?:\[[\d:]+\] |\S+\.cc:\d+: )+")  # "[12:00:00] src/video/x.cc:151: " prefixes, nested
INSTALL_HINT = (
    "install it with `pip install mmbind[decord]` (wheels exist for x86_64 only) or use backend='pyav'"
)


def import_decord() -> Any:
    """The ``decord`` module, or `MediaError` explaining how to install it."""
    try:
        import decord
    except ImportError as error:
        raise MediaError(f"the 'decord' video backend is not available ({error}); {INSTALL_HINT}") from None
    decord.logging.set_level(decord.logging.QUIET)
    return decord


class DecordReader(FrameReader):
    """Frame reader backed by ``decord.VideoReader`` on the CPU."""

    backend = "decord"

    def __init__(self, path: Path, max_pixels: int = DEFAULT_FRAME_PIXELS,
                 max_frames: int = DEFAULT_VIDEO_FRAMES) -> None:
        super().__init__(path, max_pixels, max_frames)
        self._decord = decord = import_decord()
        check_frame_size(path, max_pixels)  # before anything decodes a frame
        high_bit = source_bit_depth(path) > 8  # see the module doc
        self._high_bit = PyAVReader(path, max_pixels, max_frames) if high_bit else None
        if self._high_bit is not None:
            self._count = self._high_bit.frame_count
            return
        try:
            self._reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=0)
            self._count = len(self._reader)
        except (decord.DECORDError, RuntimeError) as error:
            raise MediaError(f"cannot open video {path} with decord: {_reason(error)}") from None
        check_frame_count(path, self._count, max_frames)

    @property
    def frame_count(self) -> int:
        return self._count

    @property
    def frame_rate(self) -> float | None:
        if self._high_bit is not None:
            return self._high_bit.frame_rate
        rate = float(self._reader.get_avg_fps())
        return rate if rate > 0 else None

    def read(self, indices: Sequence[int]) -> np.ndarray:
        if self._high_bit is not None:
            return self._high_bit.read(indices)
        wanted = self._check_indices(indices)
        try:
            batch = self._reader.get_batch(wanted)
        except (self._decord.DECORDError, RuntimeError) as error:
            raise MediaError(f"cannot decode video {self.path} with decord: {_reason(error)}") from None
        # decord.bridge may have been switched globally (e.g. to torch); normalise to numpy.
        frames = batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)
        return np.ascontiguousarray(frames, dtype=np.uint8)

    def close(self) -> None:
        self._reader = None
        if self._high_bit is not None:
            self._high_bit.close()


def _reason(error: BaseException) -> str:
    """decord's message without its timestamp and C++ source location."""
    lines = str(error).strip().splitlines()
    return _NOISE.sub("", lines[-1]) if lines else type(error).__name__
