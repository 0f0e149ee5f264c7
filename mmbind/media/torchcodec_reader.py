"""torchcodec_reader.py

The ``torchcodec`` frame-reading backend: PyTorch's own video decoder (``torchcodec.decoders.VideoDecoder``
in ``seek_mode="exact"``: it scans the file once on open, so the frame count and every frame's timestamp
are known, as the ``pyav`` backend's packet index is), seeking to the keyframe before each wanted frame.

torchcodec is optional (``pip install mmbind[torchcodec]``) and links against the system's FFmpeg
libraries (4 to 8; Debian: ``apt-get install libavcodec59 libavformat59 libavutil57 libswscale6
libswresample4 libavfilter8 libavdevice59``, which `make test` installs); it is imported only when this
backend is selected, and a missing module or FFmpeg is a `MediaError` saying how to install them.
Frames are converted to RGB by FFmpeg's swscale as with the other backends (same frames for the H.264
files tested; see tests/media/test_frame_sampling.py). A truncated or damaged file raises `MediaError` (no
recovery to the decodable prefix: use ``pyav`` for that).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mmbind.errors import MediaError
from mmbind.media.limits import DEFAULT_FRAME_PIXELS, DEFAULT_VIDEO_FRAMES, check_frame_count, check_pixels
from mmbind.media.pyav_reader import check_frame_size, check_video_container
from mmbind.media.reader import FrameReader

INSTALL_HINT = ("install it with `pip install mmbind[torchcodec]` and the system's FFmpeg libraries "
                "(Debian: apt-get install libavcodec59 libavformat59 libavutil57 libswscale6 "
                "libswresample4 libavfilter8 libavdevice59), or use backend='pyav'")


def import_decoder() -> Any:
    """``torchcodec.decoders.VideoDecoder``, or `MediaError` explaining how to install it."""
    try:
        from torchcodec.decoders import VideoDecoder
    except (ImportError, OSError, RuntimeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MediaError(f"the 'torchcodec' video backend is not available ({reason}); {INSTALL_HINT}") \
            from None
    return VideoDecoder


class TorchCodecReader(FrameReader):
    """Frame reader backed by ``torchcodec.decoders.VideoDecoder`` on the CPU."""

    backend = "torchcodec"

    def __init__(self, path: Path, max_pixels: int = DEFAULT_FRAME_PIXELS,
                 max_frames: int = DEFAULT_VIDEO_FRAMES) -> None:
        super().__init__(path, max_pixels, max_frames)
        decoder_class = import_decoder()
        check_video_container(path)  # torchcodec reads text and still images as one-frame videos
        try:
            self._decoder = decoder_class(str(path), seek_mode="exact", num_ffmpeg_threads=1)
            metadata = self._decoder.metadata
        except (RuntimeError, ValueError) as error:
            raise MediaError(f"cannot open video {path} with torchcodec: {_reason(error)}") from None
        self._count = int(metadata.num_frames or 0)
        self._rate = float(metadata.average_fps) if metadata.average_fps else None
        if self._count < 1:
            raise MediaError(f"video has no frames: {path}")
        check_frame_count(path, self._count, max_frames)
        if metadata.width and metadata.height:  # the exact scan decoded no frame: checked before any is
            check_pixels(path, int(metadata.width), int(metadata.height), max_pixels, "video frames")
        else:
            check_frame_size(path, max_pixels)

    @property
    def frame_count(self) -> int:
        return self._count

    @property
    def frame_rate(self) -> float | None:
        return self._rate

    def read(self, indices: Sequence[int]) -> np.ndarray:
        wanted = self._check_indices(indices)
        if not wanted:
            return np.zeros((0, 0, 0, 3), dtype=np.uint8)
        try:
            batch = self._decoder.get_frames_at(wanted).data  # (N, 3, H, W) uint8
        except (RuntimeError, IndexError, ValueError) as error:
            raise MediaError(f"cannot decode video {self.path} with torchcodec: {_reason(error)}") from None
        return np.ascontiguousarray(batch.permute(0, 2, 3, 1).numpy(), dtype=np.uint8)

    def close(self) -> None:
        self._decoder = None


def _reason(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
