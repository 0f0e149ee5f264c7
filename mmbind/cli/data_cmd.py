"""data_cmd.py

``mmbind data synth OUT [--seed S] [--size micro|small|default] [--world default|long] [--overwrite
[--discard-edits]]``: generate the synthetic image + video benchmark with a depth map per image scene
(`mmbind.synth`), or with ``--world long`` the long-video benchmark (`mmbind.synth.long_dataset`), into OUT
and print what was written. OUT must be new or empty; ``--overwrite`` replaces what is there
(`mmbind.output_folder`), except a generated dataset whose files were edited since (their SHA-256 differs
from its manifest), which also needs ``--discard-edits``. ``--force``, the former name of ``--overwrite``,
still works with a deprecation warning.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mmbind.cli.console import stderr, stdout


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group with its ``synth`` sub-command."""
    parser = subparsers.add_parser("data", help="datasets: generate the synthetic benchmark")
    commands = parser.add_subparsers(dest="data_command", metavar="COMMAND")
    commands.required = True
    synth = commands.add_parser("synth", help="generate images, videos, conversations and eval sets")
    synth.add_argument("out", type=Path, help="output directory (new or empty, else --overwrite)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    synth.add_argument(
        "--size", default="default", help="preset: micro, small or default (default: %(default)s)"
    )
    synth.add_argument("--world", default="default", choices=("default", "long"),
                       help="default: images, videos, depth; long: long clips with flash counts and turns")
    synth.add_argument("--overwrite", action="store_true",
                       help="replace what OUT holds (a dataset generated earlier, or anything else) whole")
    synth.add_argument("--discard-edits", action="store_true",
                       help="with --overwrite: also replace generated files edited since (refused otherwise)")
    synth.add_argument("--force", action="store_true", help=argparse.SUPPRESS)  # deprecated: --overwrite
    synth.set_defaults(func=run_synth, output_folders=("out",))


def run_synth(args: argparse.Namespace) -> int:
    """Generate and print the manifest's counts and sets."""
    from rich.table import Table

    from mmbind.synth import generate_dataset

    if args.force:
        stderr.print("warning: --force is deprecated; use --overwrite", highlight=False, soft_wrap=True)
    start = time.perf_counter()
    manifest = generate_dataset(args.out, seed=args.seed, size=args.size, world=args.world,
                                overwrite=args.overwrite or args.force, discard_edits=args.discard_edits)
    elapsed = time.perf_counter() - start
    table = Table(title=f"{args.out} (seed {args.seed}, size {args.size})", title_justify="left")
    table.add_column("part")
    table.add_column("file")
    table.add_column("samples", justify="right")
    counts = manifest["counts"]
    for key in ("train_image", "train_video", "eval_image", "eval_video"):
        if key in counts:
            table.add_row(key.replace("_", " ") + "s", "", str(counts[key]))
    for name, file in manifest["train"].items():
        table.add_row(name, file, str(counts[name]))
    for name, info in manifest["eval_sets"].items():
        table.add_row(f"eval set {name}", info["file"], str(info["samples"]))
    tok = manifest["tokenizer"]
    table.add_row("tokenizer", tok["dir"], f"{tok['vocab_size']} tokens ({tok['style']})")
    stdout.print(table)
    stdout.print(f"{len(manifest['files'])} files in {elapsed:.1f} s; manifest: {args.out / 'manifest.json'}",
                 soft_wrap=True)
    return 0
