"""Fault suite, media: decord and PyAV return the same frames for high-bit-depth (10-bit) videos too, as
the README claims (decord's own conversion of them differs by up to 10 levels per channel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
pytest.importorskip("decord")

from mmbind.media import load_video  # noqa: E402

SIZE = 32


def _write(path: Path, codec: str, pix_fmt: str, frames: int = 6) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=8)
        stream.width = stream.height = SIZE
        stream.pix_fmt = pix_fmt
        for i in range(frames):
            image = np.zeros((SIZE, SIZE, 3), np.uint8)
            image[..., 0] = np.linspace(0, 255, SIZE)[None, :]
            image[..., 1] = (i * 40) % 256
            image[..., 2] = np.linspace(255, 0, SIZE)[:, None]
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize("codec,pix_fmt", [("libx264", "yuv420p"), ("libx264", "yuv420p10le"),
                                           ("libx265", "yuv420p10le")])
def test_decord_and_pyav_give_the_same_frames_whatever_the_bit_depth(codec, pix_fmt, tmp_path):
    if codec not in av.codecs_available:
        pytest.skip(f"FFmpeg has no {codec} encoder here")
    path = _write(tmp_path / f"{codec}_{pix_fmt}.mp4", codec, pix_fmt)
    pyav = np.asarray(load_video(path, num_frames=4, backend="pyav"))
    decord = np.asarray(load_video(path, num_frames=4, backend="decord"))
    assert pyav.shape == decord.shape and pyav.dtype == decord.dtype == np.uint8
    assert np.array_equal(pyav, decord)
