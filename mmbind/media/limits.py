"""limits.py

Bounds on decoding media a user supplied, checked before the pixels (or samples) are allocated, so a small
file cannot decode into gigabytes: a 43 KB PNG can declare 12000 x 12000 pixels (432 MB decoded), a few KB
of H.264 can declare 8K frames, a small Opus file can hold hours of audio.

Every first-party loader takes its limits as options (recipe ``data.media.<key>.<option>``; the
``--max-pixels`` / ``--max-video-frames`` / ``--max-audio-seconds`` flags of ``eval``, ``chat``, ``infer``
and ``serve`` set them for every loader that has the option):

==================== ======================================== ==========================================
option               what                                     default
==================== ======================================== ==========================================
``max_pixels``       pixels of one image (image, thermal,     ``DEFAULT_IMAGE_PIXELS`` (8192 x 8192);
                     depth) or of one video frame (video)     frames ``DEFAULT_FRAME_PIXELS`` (4096 x 4096)
``max_video_frames`` frames a video file may hold (its        ``DEFAULT_VIDEO_FRAMES`` (500,000: 4.6 h at
                     length; the index is built up to it)     30 frames/s)
``max_audio_seconds`` seconds of audio decoded                ``DEFAULT_AUDIO_SECONDS`` (600)
==================== ======================================== ==========================================

The sizes are read from the file's header (PIL's ``Image.open`` reads no pixels; a video stream's codec
parameters), and PyAV also checks every decoded frame before converting it to RGB, so a stream that changes
size midway is caught too. Going over a limit raises `MediaTooLarge`, a `MediaError` naming the file, the
size found, the limit and the option / flag that sets it: a training sample is skipped and reported, a
benchmark item or an ``infer`` row is reported as unreadable, and ``mmbind serve`` answers 413.
"""

from __future__ import annotations

from pathlib import Path

from mmbind.errors import MediaError

DEFAULT_IMAGE_PIXELS = 8192 * 8192  # one image: 67 megapixels (192 MiB as RGB)
DEFAULT_FRAME_PIXELS = 4096 * 4096  # one video frame: 4K, any orientation (48 MiB as RGB)
DEFAULT_VIDEO_FRAMES = 500_000  # frames a video may hold
DEFAULT_AUDIO_SECONDS = 600.0  # audio decoded from one file

FLAGS = {"max_pixels": "--max-pixels", "max_video_frames": "--max-video-frames",
         "max_audio_seconds": "--max-audio-seconds"}


class MediaTooLarge(MediaError):
    """A media file would decode past a limit; ``limit`` is the option's name (e.g. ``max_pixels``)."""

    def __init__(self, path: Path | str, found: str, limit: str, allowed: float) -> None:
        flag = FLAGS.get(limit, limit)
        shown = f"{int(allowed):,}" if float(allowed).is_integer() else f"{allowed:g}"
        super().__init__(f"{path}: {found}, over the limit of {shown} ({limit}; raise it with {flag} "
                         f"or the loader option data.media.<key>.{limit})")
        self.path = path
        self.limit = limit


def check_pixels(path: Path | str, width: int, height: int, max_pixels: int, what: str = "image") -> None:
    """`MediaTooLarge` when a ``width`` x ``height`` ``what`` has more than ``max_pixels`` pixels."""
    if width * height > max_pixels:
        found = f"{what} of {width} x {height} = {width * height:,} pixels"
        raise MediaTooLarge(path, found, "max_pixels", max_pixels)


def check_frame_count(path: Path | str, frames: int, max_frames: int) -> None:
    """`MediaTooLarge` when a video holds more than ``max_frames`` frames."""
    if frames > max_frames:
        raise MediaTooLarge(path, f"video of more than {max_frames:,} frames", "max_video_frames", max_frames)


def check_audio_seconds(path: Path | str, seconds: float, max_seconds: float) -> None:
    """`MediaTooLarge` when more than ``max_seconds`` of audio would be decoded."""
    if seconds > max_seconds:
        raise MediaTooLarge(path, f"audio of more than {max_seconds:g} s", "max_audio_seconds", max_seconds)
