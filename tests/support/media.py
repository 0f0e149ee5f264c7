"""media_fixtures.py

Tiny generated media for the ``test_media_*`` tests: H.264 videos written with PyAV (a few kB each, cached
per session) whose frames can be identified after lossy coding, plus helpers to damage files, and
`flat_png`: a large flat PNG written row by row (a decompression bomb when its size is large).

Frame ``i`` is a flat grey of level ``LEVEL0 + STEP * i`` with a small moving texture (so the encoder
produces real P/B-frames); `frame_id` recovers ``i`` from a decoded frame's mean.
"""

from __future__ import annotations

import struct
import wave
import zlib
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

LEVEL0, STEP = 16, 5  # frame i is mostly grey level LEVEL0 + STEP * i
MAX_FRAMES = 40  # keeps every level below 255


def frame_pixels(index: int, width: int, height: int) -> np.ndarray:
    """RGB uint8 content of frame ``index``."""
    yy, xx = np.mgrid[0:height, 0:width]
    texture = ((xx + 2 * yy + 3 * index) % 8).astype(np.int64)  # 0..7, mean 3.5
    level = LEVEL0 + STEP * index + texture
    return np.repeat(level[..., None], 3, axis=2).astype(np.uint8)


def frame_id(frame: np.ndarray) -> int:
    """Which generated frame a decoded frame is (robust to coding noise of a few grey levels)."""
    return int(round((float(frame.mean()) - LEVEL0 - 3.5) / STEP))


def write_video(
    path: Path,
    num_frames: int,
    width: int = 64,
    height: int = 48,
    gop: int = 10,
    bframes: int = 0,
    container_format: str | None = None,
    faststart: bool = False,
) -> Path:
    """An H.264 (yuv420p, 30 fps) video of `frame_pixels` frames; ``container_format`` e.g. ``"mpegts"``."""
    assert 0 < num_frames <= MAX_FRAMES
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", format=container_format, options=options) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {
            "preset": "veryfast",
            "threads": "1",  # byte-identical output on any machine (the damage tests cut at fixed offsets)
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}",
        }
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(frame_pixels(index, width, height), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _mux_silence(container: Any) -> None:
    """Add a 0.1 s silent 8 kHz mono PCM track to an open output container."""
    audio = container.add_stream("pcm_s16le", rate=8000)
    samples = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
    samples.sample_rate = 8000
    container.mux(audio.encode(samples))
    container.mux(audio.encode())


def flat_png(path: Path, width: int, height: int, rgb: bool = False, level: int = 0) -> Path:
    """A valid PNG of ``width`` x ``height`` pixels of one grey ``level``, compressed row by row without
    ever holding its pixels (12000 x 12000: ~140 kB on disk, 432 MB once decoded as RGB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\x00" + bytes([level]) * (width * (3 if rgb else 1))
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2 if rgb else 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))
    return path


def write_wav(path: Path, samples: np.ndarray, rate: int, width: int = 2) -> Path:
    """``samples`` (channels, n) integers written with the stdlib ``wave`` module."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(samples.shape[0])
        out.setsampwidth(width)
        out.setframerate(rate)
        dtype = np.uint8 if width == 1 else np.dtype("<i2")
        out.writeframes(samples.T.astype(dtype).tobytes())
    return path


def write_zero_frame_video(path: Path) -> Path:
    """A Matroska file with a declared video stream but no video packets (an audio track keeps it valid)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=30)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        _mux_silence(container)
    return path


def write_audio_only(path: Path) -> Path:
    """A short silent WAV file (no video stream)."""
    with av.open(str(path), "w") as container:
        _mux_silence(container)
    return path


def truncated_copy(source: Path, target: Path, fraction: float) -> Path:
    """The first ``fraction`` of ``source``'s bytes."""
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def decode_all(path: Path) -> list[np.ndarray]:
    """Ground truth: every frame PyAV decodes sequentially (stopping at the first error)."""
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        # frame threads report a damaged frame or not by timing
        container.streams.video[0].thread_type = "NONE"
        try:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
        except av.error.FFmpegError:
            pass
    return frames


class VideoFactory:
    """Writes each requested video once per session into a temp directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[tuple[Any, ...], Path] = {}

    def __call__(self, num_frames: int, suffix: str = ".mp4", **options: Any) -> Path:
        key = (num_frames, suffix, tuple(sorted(options.items())))
        if key not in self._cache:
            name = f"v{len(self._cache)}_{num_frames}{suffix}"
            self._cache[key] = write_video(self.root / name, num_frames, **options)
        return self._cache[key]


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> VideoFactory:
    """``videos(num_frames, suffix=".mp4", **write_video options) -> Path``, cached for the session."""
    return VideoFactory(tmp_path_factory.mktemp("videos"))
