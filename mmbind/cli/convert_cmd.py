"""convert_cmd.py

``mmbind convert FORMAT SRC DST``: another layout's checkpoint to an mmbind checkpoint.
``mmbind export FORMAT SRC DST``: an mmbind checkpoint back to that layout.

Formats: ``hf`` (transformers' VideoLlavaForConditionalGeneration), ``videollava`` (the original
PKU-YuanGroup LlavaLlamaForCausalLM checkpoint; convert only).
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from mmbind.cli.console import stdout
from mmbind.errors import UsageError

# format -> (module, convert function, export function or None)
CONVERTERS = {
    "hf": ("mmbind.convert.hf", "convert_hf", "export_hf"),
    "videollava": ("mmbind.convert.videollava", "convert_videollava", None),
}
TOWER_OPTIONS = ("image_tower", "video_tower")  # convert_videollava keywords (--image-tower, --video-tower)


def register(subparsers: argparse._SubParsersAction) -> None:
    convert = subparsers.add_parser("convert", help="convert a checkpoint of another layout to mmbind")
    convert.add_argument("format", choices=sorted(CONVERTERS), help="source layout")
    convert.add_argument("src", type=Path, help="source checkpoint directory")
    convert.add_argument("dst", type=Path, help="mmbind checkpoint directory to write")
    for tower in TOWER_OPTIONS:
        convert.add_argument(
            f"--{tower.replace('_', '-')}", type=Path, default=None,
            help="videollava only: local LanguageBind directory (or tower config json) giving its geometry",
        )
    convert.add_argument("--overwrite", action="store_true", help="replace a non-empty DST")
    convert.set_defaults(func=run_convert, output_folders=("dst",))
    export = subparsers.add_parser("export", help="export an mmbind checkpoint to another layout")
    export.add_argument(
        "format", choices=sorted(f for f, c in CONVERTERS.items() if c[2]), help="target layout"
    )
    export.add_argument("src", type=Path, help="mmbind checkpoint directory")
    export.add_argument("dst", type=Path, help="directory to write")
    export.add_argument("--overwrite", action="store_true", help="replace a non-empty DST")
    export.set_defaults(func=run_export, output_folders=("dst",))


def run_convert(args: argparse.Namespace) -> int:
    module, convert, _ = CONVERTERS[args.format]
    towers = {t: getattr(args, t) for t in TOWER_OPTIONS if getattr(args, t, None) is not None}
    if towers and args.format != "videollava":
        flag = "--" + next(iter(towers)).replace("_", "-")
        raise UsageError(f"{flag}: only the videollava format takes tower paths")
    out = getattr(importlib.import_module(module), convert)(
        args.src, args.dst, overwrite=args.overwrite, **towers
    )
    stdout.print(f"converted {args.src} -> {out}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    module, _, export = CONVERTERS[args.format]
    out = getattr(importlib.import_module(module), export)(args.src, args.dst, overwrite=args.overwrite)
    stdout.print(f"exported {args.src} -> {out}")
    return 0
