"""argtypes.py

Validating argument types and checks of the ``mmbind`` command line, applied while parsing, before any work:
`positive_int` for counts (``--batch-size``, ``--max-new-tokens``, ``--limit``, ``--frames``: 0 or a negative
number is refused, never silently misapplied), `add_frame_args` / `frame_sampling` for how videos are sampled
(a count, or ``--fps`` with ``--max-frames`` / ``--min-frames``), `add_media_limit_args` / `media_limits` for
the decoding limits (``--max-pixels`` ..., `mmbind.media.limits`), `output_dir` for a folder a command writes
(an existing file, or a folder that cannot be created or written, is one error naming the path)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mmbind.errors import UsageError


def positive_int(text: str) -> int:
    """An integer of at least 1 (argparse reports anything else as a usage error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer (1 or more), got {value}")
    return value


def positive_float(text: str) -> float:
    """A number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def add_frame_args(parser: argparse.ArgumentParser) -> None:
    """``--frames`` / ``--fps`` / ``--max-frames`` / ``--min-frames``: how videos are sampled."""
    parser.add_argument("--frames", type=positive_int,
                        help="frames sampled uniformly per video (default: as the run was trained)")
    parser.add_argument("--fps", type=positive_float,
                        help="sample this many frames per second of video instead (with --max-frames)")
    parser.add_argument("--max-frames", type=positive_int, help="with --fps: at most this many (default 64)")
    parser.add_argument("--min-frames", type=positive_int, help="with --fps: at least this many (default 1)")


def frame_sampling(args: argparse.Namespace) -> dict[str, float | int]:
    """The sampling options ``add_frame_args`` gathered ({} when none is given); `UsageError` for
    contradictions."""
    fps, top, bottom = args.fps, args.max_frames, args.min_frames
    if fps is None:
        if top is not None or bottom is not None:
            raise UsageError("--max-frames / --min-frames apply to sampling by rate: add --fps")
        return {"frames": args.frames} if args.frames else {}
    if args.frames:
        raise UsageError("--frames (a fixed count) and --fps (a rate) exclude each other")
    if top is not None and bottom is not None and top < bottom:
        raise UsageError(f"--max-frames {top} is below --min-frames {bottom}")
    out: dict[str, float | int] = {"fps": fps, "min_frames": bottom or 1}
    if top is not None:
        out["max_frames"] = top
    return out


def add_media_limit_args(parser: argparse.ArgumentParser) -> None:
    """``--max-pixels`` / ``--max-video-frames`` / ``--max-audio-seconds``: bounds on decoding media."""
    from mmbind.media import limits  # light: neither PIL nor torch

    group = parser.add_argument_group("media limits (refused before decoding)")
    group.add_argument("--max-pixels", type=positive_int,
                       help=f"pixels of one image or video frame (default: {limits.DEFAULT_IMAGE_PIXELS:,} "
                            f"per image, {limits.DEFAULT_FRAME_PIXELS:,} per frame)")
    group.add_argument("--max-video-frames", type=positive_int,
                       help=f"frames a video may hold (default: {limits.DEFAULT_VIDEO_FRAMES:,})")
    group.add_argument("--max-audio-seconds", type=positive_float,
                       help=f"seconds of audio decoded from one file (default: "
                            f"{limits.DEFAULT_AUDIO_SECONDS:g})")


def media_limits(args: argparse.Namespace) -> dict[str, float | int]:
    """The loader options ``add_media_limit_args`` gathered (those given)."""
    given = {"max_pixels": args.max_pixels, "max_video_frames": args.max_video_frames,
             "max_audio_seconds": args.max_audio_seconds}
    return {k: v for k, v in given.items() if v is not None}


def check_output_dir(path: Path, what: str) -> None:
    """`UsageError` unless ``path`` is (or can become) a writable folder; nothing is created."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{what} {path}: exists and is not a folder")
    if path.is_dir():
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"{what} {path}: the folder is not writable")
        return
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{what} {path}: cannot create it, {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path}: cannot create it, {parent} is not writable")


def check_output_file(path: Path, what: str) -> None:
    """`UsageError` unless ``path`` is (or can become) a file: not a folder, in a folder that can be made."""
    if path.is_dir():
        raise UsageError(f"{what} {path}: is a folder, not a file")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise UsageError(f"{what} {path}: the file is not writable")
        return
    check_output_dir(path.absolute().parent, f"{what} {path}: its folder")


def check_outputs(args: argparse.Namespace) -> None:
    """Check what the parsed command will write before it runs: each sub-command names the argparse
    destinations of its output folders (``output_folders``) and files (``output_files``) in its defaults."""
    for dest in getattr(args, "output_folders", ()):
        value = getattr(args, dest, None)
        if isinstance(value, Path):
            check_output_dir(value, "output folder")
    for dest in getattr(args, "output_files", ()):
        value = getattr(args, dest, None)
        if isinstance(value, Path):
            check_output_file(value, "output file")


def output_paths(args: argparse.Namespace) -> list[Path]:
    """The output folders and files the parsed command writes (``output_folders`` / ``output_files``)."""
    dests = [*getattr(args, "output_folders", ()), *getattr(args, "output_files", ())]
    return [value for dest in dests if isinstance(value := getattr(args, dest, None), Path)]
