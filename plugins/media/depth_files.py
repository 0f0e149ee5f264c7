"""depth_files.py

The ``depth`` media loader: a depth map file to its raw values, as LanguageBind reads depth
(``cv2.imread(path, cv2.IMREAD_UNCHANGED).astype("float32")``): a float32 ``(H, W)`` array of the stored
numbers, unscaled (millimetres in NYUv2-style 16-bit PNGs); the ``languagebind_depth`` encoder's transform
turns them into metres and normalises them.

Read with PIL: one-channel images only -- 16-bit (``I;16*``), 32-bit integer (``I``), float (``F``) and
8-bit (``L``; bilevel ``1`` as 0 / 255) PNG, TIFF, PGM, ... A colour or alpha image (RGB, RGBA, LA,
palette) is not a depth map: `MediaError`, as are missing and unreadable files. Multi-frame files give
their first frame; EXIF orientation is not applied (``IMREAD_UNCHANGED`` ignores it too). Depth maps are
ordinary PNGs, so this loader claims no file suffix: name the modality (``depth=PATH``). A map over
``max_pixels`` is refused from its header (`mmbind.media.limits`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mmbind import MediaError, MediaLoaderEntry, hookimpl
from mmbind.interfaces import MediaLoader
from mmbind.media import image_size, open_image
from mmbind.media.limits import DEFAULT_IMAGE_PIXELS, check_pixels
from mmbind.media.reader import require_file
from mmbind_plugins.media.image_files import ImageFileOptions

DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F", "L", "1")  # PIL modes of one-channel maps


class DepthFileOptions(ImageFileOptions):
    """Options of the ``depth`` loader (those of ``image``: ``max_pixels``)."""


def read_depth_map(path: str | Path, max_pixels: int = DEFAULT_IMAGE_PIXELS) -> np.ndarray:
    """The raw values of the one-channel depth map at ``path``, float32 ``(H, W)``."""
    path = require_file(path, "depth map")
    try:
        with open_image(path, max_pixels, "depth map") as image:
            image.load()
            if image.mode not in DEPTH_MODES:
                bands = len(image.getbands())
                raise MediaError(
                    f"{path}: not a depth map: {bands} channel(s) (PIL mode {image.mode}); depth maps have "
                    "one channel (16-bit or 8-bit grey)"
                )
            values = np.asarray(image.convert("L") if image.mode == "1" else image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise MediaError(f"cannot read depth map {path}: {error}") from None
    return values.astype(np.float32)


class DepthFiles(MediaLoader):
    """Reads one depth map per file."""

    def __init__(self, max_pixels: int | None = None) -> None:
        self.max_pixels = max_pixels or DEFAULT_IMAGE_PIXELS

    def decoded_bytes(self, path: Path) -> int:
        width, height = image_size(path)
        check_pixels(path, width, height, self.max_pixels, "depth map")
        return width * height * 4

    def load(self, path: Path) -> np.ndarray:
        return read_depth_map(path, self.max_pixels)


def build(options: DepthFileOptions) -> DepthFiles:
    return DepthFiles(options.max_pixels)


@hookimpl
def mmbind_media_loaders() -> list[MediaLoaderEntry]:
    return [MediaLoaderEntry("depth", DepthFileOptions, build, (), False,
                             "depth maps (16-/8-bit PNG, TIFF) as raw float32 values")]
