"""synthetic_media.py

Tiny generated media for demos and tests: a coloured disc on a background (image) and a square moving
left to right (video frames), as uint8 arrays.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def disc_image(size: int = 64, colour: tuple[int, int, int] = (220, 40, 40)) -> Image.Image:
    """A disc of ``colour`` centred on a dark blue background."""
    image = Image.new("RGB", (size, size), (20, 30, 90))
    margin = size // 4
    ImageDraw.Draw(image).ellipse([margin, margin, size - margin, size - margin], fill=colour)
    return image


def moving_square_frames(num_frames: int = 8, size: int = 64) -> np.ndarray:
    """``(T, size, size, 3)`` uint8 frames of a white square moving left to right."""
    frames = np.zeros((num_frames, size, size, 3), dtype=np.uint8)
    side = size // 4
    top = (size - side) // 2
    for t in range(num_frames):
        left = int(round(t * (size - side) / max(num_frames - 1, 1)))
        frames[t, top : top + side, left : left + side] = 255
    return frames
