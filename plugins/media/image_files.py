"""image_files.py

The ``image`` media loader: a file to an ``RGB`` PIL image, as Video-LLaVA reads images
(`mmbind.media.load_image`: any PIL-readable format and mode, high-depth images scaled by their range).
An image over ``max_pixels`` is refused from its header (`mmbind.media.limits`).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from pydantic import Field

from mmbind import MediaLoaderEntry, hookimpl
from mmbind.interfaces import MediaLoader
from mmbind.media import IMAGE_SUFFIXES, image_size, load_image
from mmbind.media.limits import DEFAULT_IMAGE_PIXELS, check_pixels
from mmbind.recipe.strict import StrictModel


class ImageFileOptions(StrictModel):
    """Options of the ``image`` loader."""

    max_pixels: int | None = Field(None, ge=1, description=f"refuse images of more pixels (default "
                                                          f"{DEFAULT_IMAGE_PIXELS:,}: 8192 x 8192)")


class ImageFiles(MediaLoader):
    """Reads one image per file, as RGB."""

    def __init__(self, max_pixels: int | None = None) -> None:
        self.max_pixels = max_pixels or DEFAULT_IMAGE_PIXELS

    def decoded_bytes(self, path: Path) -> int:
        width, height = image_size(path)
        check_pixels(path, width, height, self.max_pixels, "image")
        return width * height * 3

    def load(self, path: Path) -> Image.Image:
        return load_image(path, self.max_pixels)


def build(options: ImageFileOptions) -> ImageFiles:
    return ImageFiles(options.max_pixels)


@hookimpl
def mmbind_media_loaders() -> list[MediaLoaderEntry]:
    return [MediaLoaderEntry("image", ImageFileOptions, build, IMAGE_SUFFIXES, False,
                             "image files (PNG, JPEG, ...) as RGB images")]
