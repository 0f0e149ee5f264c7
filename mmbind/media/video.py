"""video.py

Video loading: pick a frame-reading backend and sample frames uniformly, as Video-LLaVA does, or by rate.

    frames = load_video("clip.mp4", num_frames=8)       # (8, H, W, 3) uint8, RGB
    frames = read_frames("clip.mp4", 8, backend="decord")
    frames = read_frames("clip.mp4", FramePolicy(fps=1.0, max_frames=32))   # one frame a second, <= 32

Backends (`mmbind.media.reader.FrameReader`): ``"pyav"`` (always installed), ``"decord"`` (optional, ``pip
install mmbind[decord]``, x86_64 only) and ``"torchcodec"`` (optional, ``pip install mmbind[torchcodec]`` plus
the system's FFmpeg libraries); selecting a missing one raises `MediaError` saying how to install it. All
return bit-identical frames for MP4 / MKV files (tested). Every backend seeks, so reading costs grow with the
frames sampled, not with the video's length. ``"auto"`` means ``"pyav"``, the fastest in
``benchmarks/frame_reading.py`` (figures, with the commit they were measured at: docs/performance.md).
Sampling by rate costs what it reads: 30 frames (1 frame/s of the 900-frame clips) take about 1.5x the time
of 8.

Part of PyAV's lead is skipping the unrequested non-reference frames (without that it takes 20-25 %
longer on these files: 300 frames 320x240 23.6 -> 29.6 ms, 900 frames 640x360 94 -> 120 ms); it is ahead
of decord even without it. decord also has no arm64 wheels and known wrong-frame bugs (MPEG-TS with
B-frames returns shifted frames, see `mmbind.media.pyav_reader`).

Rules (tested):

- Count sampling is `frame_indices` (``linspace(0, n - 1, T).astype(int)``); a video shorter than ``T``
  frames repeats frames. Rate sampling follows `mmbind.media.sampling.FramePolicy` (a cap, a floor, and
  no frame read twice to reach a rate above the video's own); a file without a frame rate is a
  `MediaError` naming it.
- A missing, empty, corrupt or non-video file, or one with no frames, raises `MediaError` naming it.
- Decoding is bounded (`mmbind.media.limits`): ``max_pixels`` per frame and ``max_frames`` frames in the
  file, checked on open before any frame is decoded (`MediaTooLarge`); `decoded_bytes` tells what a read
  will allocate without decoding.
- A truncated file (more frames indexed than decode; ``pyav`` backend) is sampled over the frames that
  do decode; if none decodes, `MediaError`. Decoding is bounded (see `mmbind.media.pyav_reader`).
  decord refuses truncated MP4s with a `MediaError` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from mmbind.errors import MediaError
from mmbind.media.limits import DEFAULT_FRAME_PIXELS, DEFAULT_VIDEO_FRAMES, check_pixels
from mmbind.media.reader import FrameReader, IncompleteVideoError, require_file
from mmbind.media.sampling import FramePolicy

Backend = Literal["auto", "pyav", "decord", "torchcodec"]
BACKENDS: tuple[str, ...] = ("pyav", "decord", "torchcodec")  # selectable by name
AUTO_BACKEND = "pyav"  # what "auto" resolves to (the faster one in benchmarks/frame_reading.py)
_MAX_RESAMPLES = 8  # times sampling is redone over a shrinking decodable prefix


def open_reader(path: str | Path, backend: Backend = "auto", max_pixels: int = DEFAULT_FRAME_PIXELS,
                max_frames: int = DEFAULT_VIDEO_FRAMES) -> FrameReader:
    """An open `FrameReader` for ``path`` (`MediaTooLarge` for frames over ``max_pixels`` or a file of
    more than ``max_frames`` frames); backends are imported only here, on first use."""
    path = require_file(path)
    name = AUTO_BACKEND if backend == "auto" else backend
    if name == "pyav":
        from mmbind.media.pyav_reader import PyAVReader

        return PyAVReader(path, max_pixels, max_frames)
    if name == "decord":
        from mmbind.media.decord_reader import DecordReader

        return DecordReader(path, max_pixels, max_frames)
    if name == "torchcodec":
        from mmbind.media.torchcodec_reader import TorchCodecReader

        return TorchCodecReader(path, max_pixels, max_frames)
    raise MediaError(f"unknown video backend '{backend}' (choose from: auto, {', '.join(BACKENDS)})")


def _policy(num_frames: int | FramePolicy) -> FramePolicy:
    if isinstance(num_frames, FramePolicy):
        return num_frames
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    return FramePolicy(frames=num_frames)


def _indices(policy: FramePolicy, reader: FrameReader, available: int) -> np.ndarray:
    try:
        return policy.indices(available, reader.frame_rate if policy.fps is not None else None)
    except ValueError as error:
        raise MediaError(f"video {reader.path}: {error}") from None


def count_frames(path: str | Path, policy: int | FramePolicy, backend: Backend = "auto",
                 max_pixels: int = DEFAULT_FRAME_PIXELS, max_frames: int = DEFAULT_VIDEO_FRAMES) -> int:
    """How many frames `read_frames` returns for ``path`` under ``policy``, without decoding any (the
    file's index is read: `MediaError` when it cannot be)."""
    policy = _policy(policy)
    if policy.fps is None:
        return policy.frames
    with open_reader(path, backend, max_pixels, max_frames) as reader:
        if reader.frame_count < 1:
            raise MediaError(f"video has no frames: {reader.path}")
        return len(_indices(policy, reader, reader.frame_count))


def decoded_bytes(path: str | Path, policy: int | FramePolicy, max_pixels: int = DEFAULT_FRAME_PIXELS) -> int:
    """Bytes of the ``(T, H, W, 3)`` array `read_frames` would return, from the header (no frame decoded;
    by rate, T is the policy's cap); `MediaTooLarge` when the frames are over ``max_pixels``."""
    from mmbind.media.pyav_reader import frame_size

    path = require_file(path)
    size = frame_size(path)
    if size is None:
        raise MediaError(f"cannot read video {path}: no video stream with a frame size")
    check_pixels(path, *size, max_pixels, "video frames")
    return _policy(policy).cap * size[0] * size[1] * 3


def read_frames(path: str | Path, num_frames: int | FramePolicy = 8, backend: Backend = "auto",
                max_pixels: int = DEFAULT_FRAME_PIXELS, max_frames: int = DEFAULT_VIDEO_FRAMES) -> np.ndarray:
    """RGB frames of ``path`` as ``(T, H, W, 3)`` uint8: ``num_frames`` uniformly sampled, or as a
    `FramePolicy` says (by rate: T varies by video); bounded by ``max_pixels`` per frame and ``max_frames``
    in the file (`MediaTooLarge`)."""
    policy = _policy(num_frames)
    with open_reader(path, backend, max_pixels, max_frames) as reader:
        available = reader.frame_count
        if available < 1:  # decord can report 0 for files it opens
            raise MediaError(f"video has no frames: {reader.path}")
        for _ in range(_MAX_RESAMPLES):
            try:
                return reader.read(_indices(policy, reader, available))
            except IncompleteVideoError as error:
                if error.decodable < 1:
                    message = f"no frame of video {reader.path} decodes (file truncated or corrupt)"
                    raise MediaError(message) from None
                if error.decodable >= available:
                    raise MediaError(str(error)) from None
                available = error.decodable
        raise MediaError(f"video {reader.path} is damaged throughout: gave up finding decodable frames")


load_video = read_frames  # the name used next to `mmbind.media.load_image`
