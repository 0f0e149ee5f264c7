"""image_files.py

The ``image`` media loader: a file to an ``RGB`` PIL image, as Video-LLaVA reads images
(`mmbind.media.load_image`: any PIL-readable format and mode, high-depth images scaled by their range).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from mmbind import MediaLoaderEntry, hookimpl
from mmbind.interfaces import MediaLoader
from mmbind.media import IMAGE_SUFFIXES, load_image
from mmbind.recipe.strict import StrictModel


class ImageFileOptions(StrictModel):
    """Options of the ``image`` loader (none)."""


class ImageFiles(MediaLoader):
    """Reads one image per file."""

    def load(self, path: Path) -> Image.Image:
        return load_image(path)


def build(options: ImageFileOptions) -> ImageFiles:
    return ImageFiles()


@hookimpl
def mmbind_media_loaders() -> list[MediaLoaderEntry]:
    return [MediaLoaderEntry("image", ImageFileOptions, build, IMAGE_SUFFIXES, False,
                             "image files (PNG, JPEG, ...) as RGB images")]
