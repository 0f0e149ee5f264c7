"""reader.py

The `FrameReader` interface every video backend implements (``pyav``, ``decord``, ``torchcodec``).

A reader is an open video file that knows how many frames it has (`frame_count`) and at what average rate
they play (`frame_rate`, for sampling by frames per second), and returns decoded RGB frames by index
(`read`). Frame ``i`` is the ``i``-th frame in presentation (timestamp) order.
Backends are imported lazily by `mmbind.media.video.open_reader`; this module imports neither.

Bounds (`mmbind.media.limits`): a reader is opened with ``max_pixels`` (per frame) and ``max_frames`` (frames
the file may hold); a file over either raises `MediaTooLarge` on open, from its header and index, before
any frame is decoded.

Errors: every failure a file can cause is a `MediaError` naming the file. `IncompleteVideoError` is the
one a caller can recover from: the file's index promised more frames than actually decode (a truncated
or damaged tail); ``decodable`` says how many leading frames do, so uniform sampling can be redone over
them (see `mmbind.media.video.read_frames`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar

import numpy as np

from mmbind.errors import MediaError
from mmbind.media.limits import DEFAULT_FRAME_PIXELS, DEFAULT_VIDEO_FRAMES


class IncompleteVideoError(MediaError):
    """Fewer frames decode than the container's index lists."""

    def __init__(self, path: Path, decodable: int, indexed: int) -> None:
        super().__init__(
            f"video {path}: only the first {decodable} of {indexed} indexed frames decode "
            "(file truncated or damaged)"
        )
        self.path = path  # the video file
        self.decodable = decodable  # leading frames known to decode
        self.indexed = indexed  # frames the container index listed


class FrameReader(ABC):
    """An open video file handing out decoded ``uint8`` RGB frames by index; use as a context manager."""

    backend: ClassVar[str]  # name used by ``backend=`` in `read_frames`

    def __init__(self, path: Path, max_pixels: int = DEFAULT_FRAME_PIXELS,
                 max_frames: int = DEFAULT_VIDEO_FRAMES) -> None:
        self.path = path
        self.max_pixels = max_pixels  # pixels of one frame
        self.max_frames = max_frames  # frames the file may hold

    @property
    @abstractmethod
    def frame_count(self) -> int:
        """Number of frames, as indexed when the file was opened (may exceed what decodes)."""

    @property
    @abstractmethod
    def frame_rate(self) -> float | None:
        """Average frames per second (None when the file does not tell, e.g. a raw elementary stream)."""

    @abstractmethod
    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames ``(len(indices), H, W, 3)`` uint8 in the order given (repeats allowed).

        Raises `IncompleteVideoError` when the stream ends before a requested frame and `MediaError` for
        any other decoding failure.
        """

    def close(self) -> None:
        """Release the file and decoder (idempotent).

        A no-op by default, on purpose: backends that hold a file or decoder override it.
        """
        return None

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _check_indices(self, indices: Sequence[int]) -> list[int]:
        wanted = [int(i) for i in indices]
        bad = [i for i in wanted if not 0 <= i < self.frame_count]
        if bad:
            count = self.frame_count
            raise IndexError(f"frame index {bad[0]} out of range for {count} frames of {self.path}")
        return wanted


def require_file(path: str | Path, what: str = "video") -> Path:
    """``path`` as a `Path`, or `MediaError` if it is not an existing regular file."""
    path = Path(path)
    if not path.exists():
        raise MediaError(f"{what} file not found: {path}")
    if not path.is_file():
        raise MediaError(f"{what} path is not a regular file: {path}")
    return path
