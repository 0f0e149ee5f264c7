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
- Decoding is bounded: an image of more than ``max_pixels`` pixels (default
  `mmbind.media.limits.DEFAULT_IMAGE_PIXELS`) is refused from its header, before its pixels are allocated
  (`MediaTooLarge`); high-depth images are scaled in blocks of rows, so converting one costs a few bytes
  per pixel beyond the decoded image, not a float64 copy of it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from mmbind.errors import MediaError
from mmbind.media.limits import DEFAULT_IMAGE_PIXELS, MediaTooLarge, check_pixels
from mmbind.media.reader import require_file

HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_BLOCK_PIXELS = 1 << 20  # pixels scaled at a time when converting a high-depth image
_READ_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


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


def load_image(path: str | Path, max_pixels: int = DEFAULT_IMAGE_PIXELS) -> Image.Image:
    """The image at ``path`` fully decoded, as ``RGB`` (`MediaTooLarge` past ``max_pixels``)."""
    path = require_file(path, "image")
    try:
        with open_image(path, max_pixels) as image:
            image.load()
            return to_rgb(image)
    except _READ_ERRORS as error:
        raise MediaError(f"cannot read image {path}: {error}") from None


def open_image(path: Path, max_pixels: int, what: str = "image") -> Image.Image:
    """``Image.open(path)`` (header read, no pixels decoded) after checking its size against
    ``max_pixels``; close it, or use it as a context manager."""
    with warnings.catch_warnings():
        # our own limit replaces PIL's DecompressionBombWarning
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except Image.DecompressionBombError:  # PIL's own hard limit, twice its MAX_IMAGE_PIXELS
            bound = 2 * (Image.MAX_IMAGE_PIXELS or 0)
            raise MediaTooLarge(path, f"{what} of more than {bound:,} pixels", "max_pixels",
                                min(max_pixels, bound)) from None
    try:
        check_pixels(path, *image.size, max_pixels, what)
    except MediaError:
        image.close()
        raise
    return image


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` from the file's header (nothing decoded); `MediaError` when unreadable."""
    path = require_file(path, "image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except _READ_ERRORS as error:
        raise MediaError(f"cannot read image {path}: {error}") from None


def _to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """A one-channel high-depth array scaled into 0..255 by its real range, a block of rows at a time (the
    same values as scaling the whole float64 array at once, without holding it)."""
    rows = max(1, _BLOCK_PIXELS // max(1, values.shape[1] if values.ndim > 1 else 1))
    starts = range(0, len(values), rows)
    low, high = 0.0, 0.0
    if values.size:
        ranges = [(float(b.min()), float(b.max())) for b in (_finite(values[s:s + rows]) for s in starts)]
        low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
    out = np.empty(values.shape, dtype=np.uint8)
    for start in starts:
        out[start:start + rows] = _scale(_finite(values[start:start + rows]), mode, low, high)
    return out


def _finite(values: np.ndarray) -> np.ndarray:
    return np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)


def _scale(data: np.ndarray, mode: str, low: float, high: float) -> np.ndarray:
    if mode.startswith("I;16"):
        scaled = data / 65535.0
    elif mode == "I" and low >= 0 and high <= 65535:
        scaled = data / (255.0 if high <= 255 else 65535.0)
    elif mode == "F" and low >= 0 and high <= 1:
        scaled = data
    else:  # no format range holds the values: their own range
        scaled = (data - low) / (high - low) if high > low else np.zeros_like(data)
    return np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8)
