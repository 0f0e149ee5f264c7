"""suffixes.py

File suffixes of the image and video formats mmbind's first-party loaders read (lower case, with the dot).
``VIDEO_SUFFIXES`` is in the order a benchmark loader tries them when its files name a video without one,
as the paper's do; ``.gif`` is a video, as in TGIF-QA. Which modality a bare path is comes from the
installed media loaders (`mmbind.data.media_readers.guess_modality`), not from these lists.
"""

from __future__ import annotations

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif", ".mpg", ".mpeg", ".ts")
