"""data_cmd.py

``mmbind data synth OUT [--seed S] [--size micro|small|default] [--world default|long] [--overwrite
[--discard-edits]]``: generate the synthetic image + video benchmark with a depth map per image scene
(`mmbind.synth`), or with ``--world long`` the long-video benchmark (`mmbind.synth.long_dataset`), into OUT
and print what was written. OUT must be new or empty; ``--overwrite`` replaces what is there
(`mmbind.output_folder`), except a generated dataset whose files were edited since (their SHA-256 differs
from its manifest), which also needs ``--discard-edits``. ``--force``, the former name of ``--overwrite``,
still works with a deprecation warning.

``mmbind data shard SRC.json|SRC.jsonl [SRC ...] --out DIR [--shard-size 256MB] [--image-root P]
[--video-root P] [--media-root KEY=P] [--overwrite] [--no-progress]``: write the samples of LLaVA-format
files and their media as webdataset tar shards with a wids index (`mmbind.shards.write`), with a progress
bar; a rerun after an interruption continues. The samples left out are listed in DIR/bad_samples.jsonl.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mmbind.cli.console import stderr, stdout


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``data`` command group with its ``synth`` and ``shard`` sub-commands."""
    parser = subparsers.add_parser("data", help="datasets: generate the synthetic benchmark, write shards")
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
    shard = commands.add_parser("shard", help="write LLaVA-format files and their media as tar shards")
    shard.add_argument("sources", nargs="+", metavar="SRC", help="LLaVA-format .json / .jsonl files")
    shard.add_argument("--out", type=Path, required=True, help="output folder (new or empty, else resumed)")
    shard.add_argument("--shard-size", type=byte_size, default="256MB",
                       help="bytes of tar per shard, such as 256MB or 1GiB (default: %(default)s)")
    shard.add_argument("--image-root", help="prefix of relative image paths (default: the file's folder)")
    shard.add_argument("--video-root", help="prefix of relative video paths (default: the file's folder)")
    shard.add_argument("--media-root", action="append", default=[], metavar="KEY=PATH", type=key_path,
                       help="prefix of relative paths of data key KEY (repeatable)")
    shard.add_argument("--overwrite", action="store_true", help="start over, replacing what OUT holds")
    shard.add_argument("--no-progress", action="store_true", help="no live progress bar")
    shard.set_defaults(func=run_shard, output_folders=("out",))


def byte_size(text: str) -> int:
    """A size such as ``256MB`` (argparse reports a bad one as a usage error)."""
    from mmbind.recipe.byte_sizes import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def key_path(text: str) -> tuple[str, str]:
    """``KEY=PATH``."""
    key, sep, path = text.partition("=")
    if not sep or not key.isidentifier() or not path:
        raise argparse.ArgumentTypeError(f"expected KEY=PATH, such as depth=data/depth, got {text!r}")
    return key, path


def run_shard(args: argparse.Namespace) -> int:
    """Write the shards, with a progress bar, and print what was written."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from mmbind.errors import DataError, UsageError
    from mmbind.recipe.shard_support import INSTALL, missing_shard_libraries
    from mmbind.shards.write import BAD_SAMPLES, write_shards

    if missing := missing_shard_libraries():
        raise UsageError(f"mmbind data shard needs {', '.join(missing)}, not installed ({INSTALL})")

    roots = {"image": args.image_root, "video": args.video_root, **dict(args.media_root)}
    bar = Progress(TextColumn("shards"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=stderr, disable=args.no_progress, transient=True)
    with bar:
        task = bar.add_task("samples", total=None)
        try:
            report = write_shards(args.sources, args.out, roots, args.shard_size, overwrite=args.overwrite,
                                  progress=lambda done, total: bar.update(task, completed=done, total=total))
        except DataError as exc:  # an input file that cannot be read: a usage error of this command
            raise UsageError(str(exc)) from None
    kept = f" ({report.kept} kept from an earlier run)" if report.kept else ""
    stdout.print(f"{report.samples} samples in {report.shards} shards{kept}, {report.bytes:,} bytes: "
                 f"{args.out / 'index.json'}", soft_wrap=True)
    if report.bad:
        stdout.print(f"{report.bad} sample(s) left out: {args.out / BAD_SAMPLES}", soft_wrap=True)
    return 0


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
