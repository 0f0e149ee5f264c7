"""media_io.py

Writing generated media reproducibly: PNG and JPEG images (PIL, fixed options) and H.264 mp4 videos
(PyAV's libx264, yuv420p, constant rate factor CRF). x264 is bit-exact only with one encoder thread
and without macroblock-tree rate control: with ``mbtree`` on, these tiny flat clips came out differently
on repeated runs (same frames in, different bitstreams out); ``threads=1`` + ``mbtree=0`` gave identical
files in every trial. Sizes must be even for yuv420p.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

FPS = 4  # frames per second of the generated clips
CRF = 18  # x264 constant rate factor (lower: closer to the drawn pixels)
JPEG_QUALITY = 92  # JPEG quality
X264_OPTIONS = {"crf": str(CRF), "threads": "1", "x264-params": "mbtree=0"}  # bit-exact settings (see above)


def write_image(image: Image.Image, path: Path) -> None:
    """Save ``image`` as PNG or JPEG, chosen by the suffix of ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, format="JPEG", quality=JPEG_QUALITY, subsampling=0)
    else:
        image.save(path, format="PNG", optimize=False)


def write_video(frames: np.ndarray, path: Path, fps: int = FPS) -> None:
    """Encode ``(T, H, W, 3)`` uint8 RGB frames as an H.264 mp4 at ``path``, ``fps`` frames a second."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options=X264_OPTIONS)
        stream.height, stream.width = frames.shape[1], frames.shape[2]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            for packet in stream.encode(picture):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
