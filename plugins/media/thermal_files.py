"""thermal_files.py

The ``thermal`` media loader: a thermal (infrared) image file to an ``RGB`` PIL image. LanguageBind opens
thermal images with ``Image.open(path)`` and feeds them to ``ToTensor`` unconverted; its released data are
3-channel JPEGs, for which that is this loader's result. Other modes are converted to RGB the way the
``image`` loader does (`mmbind.media.load_image`: grey replicated, alpha dropped, 16-bit scaled by its
range), where LanguageBind's 3-channel normalisation would fail on them. Thermal images are ordinary
image files, so this loader claims no file suffix: name the modality (``thermal=PATH``).
"""

from __future__ import annotations

from mmbind import MediaLoaderEntry, hookimpl
from mmbind_plugins.media.image_files import ImageFileOptions, ImageFiles


class ThermalFileOptions(ImageFileOptions):
    """Options of the ``thermal`` loader (those of ``image``: ``max_pixels``)."""


def build(options: ThermalFileOptions) -> ImageFiles:
    return ImageFiles(options.max_pixels)


@hookimpl
def mmbind_media_loaders() -> list[MediaLoaderEntry]:
    return [MediaLoaderEntry("thermal", ThermalFileOptions, build, (), False,
                             "thermal (infrared) images as RGB images")]
