"""image.py

Image loading as Video-LLaVA does it: ``Image.open(path).convert("RGB")``, with typed errors.

Rules (tested):

- Any PIL-readable file and mode is returned as an ``RGB`` image of the same size: grayscale (``L``) is
  replicated to three channels, palette (``P``) images are looked up in their palette, ``RGBA`` / ``LA``
  lose their alpha channel *without compositing* (a fully transparent pixel keeps the colour it stores,
  exactly what ``.convert("RGB")`` does in Video-LLaVA), ``CMYK`` / ``YCbCr`` are converted by PIL.
- High-depth images are scaled by their real range instead of clipped (PIL's ``.convert("RGB")`` saturates
  them to white or black): 16-bit (``I;16*``) by 65535; 32-bit integer (``I``) by 255 or 65535, whichever
  holds its values, else by its own minimum..maximum; float (``F``) by 1.0 when its values lie in [0, 1],
  else by its own minimum..maximum (NaN becomes 0).
- EXIF orientation is not applied (Video-LLaVA does not either). Multi-frame files give their first frame.
- A missing, unreadable, truncated or non-image file raises `MediaError` naming it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from mmbind.errors import MediaError
from mmbind.media.reader import require_file

HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def to_rgb(image: Image.Image) -> Image.Image:
    """``image.convert("RGB")`` (alpha dropped, palette expanded) without PIL's transparency warning."""
    if image.mode == "RGB":
        return image
    if image.mode in HIGH_DEPTH_MODES:
        return Image.fromarray(_to_uint8(np.asarray(image), image.mode)).convert("RGB")
    with warnings.catch_warnings():
        # "Palette images with Transparency ... should be converted to RGBA": dropped on purpose
        warnings.simplefilter("ignore", UserWarning)
        return image.convert("RGB")


def load_image(path: str | Path) -> Image.Image:
    """The image at ``path`` fully decoded, as ``RGB``."""
    path = require_file(path, "image")
    try:
        with Image.open(path) as image:
            image.load()
            return to_rgb(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise MediaError(f"cannot read image {path}: {error}") from None


def _to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """A one-channel high-depth array scaled into 0..255 by its real range."""
    data = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if mode.startswith("I;16"):
        scaled = data / 65535.0
    elif mode == "I" and low >= 0 and high <= 65535:
        scaled = data / (255.0 if high <= 255 else 65535.0)
    elif mode == "F" and low >= 0 and high <= 1:
        scaled = data
    else:  # no format range holds the values: their own range
        scaled = (data - low) / (high - low) if high > low else np.zeros_like(data)
    return np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)
