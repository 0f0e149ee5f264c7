"""image.py

Image loading as Video-LLaVA does it: ``Image.open(path).convert("RGB")``, with typed errors.

Rules (tested):

- Any PIL-readable file and mode is returned as an ``RGB`` image of the same size: grayscale (``L``) is
  replicated to three channels, palette (``P``) images are looked up in their palette, ``RGBA`` / ``LA``
  lose their alpha channel *without compositing* (a fully transparent pixel keeps the colour it stores,
  exactly what ``.convert("RGB")`` does in Video-LLaVA), ``CMYK`` / ``YCbCr`` are converted by PIL.
- EXIF orientation is not applied (Video-LLaVA does not either). Multi-frame files give their first frame.
- A missing, unreadable, truncated or non-image file raises `MediaError` naming it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image

from mmbind.errors import MediaError
from mmbind.media.reader import require_file


def to_rgb(image: Image.Image) -> Image.Image:
    """``image.convert("RGB")`` (alpha dropped, palette expanded) without PIL's transparency warning."""
    if image.mode == "RGB":
        return image
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
