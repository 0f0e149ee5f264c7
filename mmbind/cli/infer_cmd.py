"""infer_cmd.py

``mmbind infer TARGET --input questions.jsonl --output answers.jsonl [--batch-size 16]``: answer every
row of the input (id, question, optional image / video) with a run's last finished stage or a checkpoint,
in length-sorted batches, with a progress bar showing answers per second. Answers are appended as each
batch finishes; rerunning skips ids already in the output. Bad rows are listed by id and skipped (exit
status 0 when at least one row could be answered or none were left, 1 when every remaining row was bad).
The output must be new or empty or an answers file (`mmbind.output_folder.INFER`); any other file is refused
unless ``--overwrite``, which replaces it (answering every row again).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmbind.cli.argtypes import add_frame_args, add_media_limit_args, frame_sampling, media_limits
from mmbind.errors import UsageError
from mmbind.output_folder import INFER


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``infer`` sub-command."""
    parser = subparsers.add_parser(
        "infer", help="answer a JSON-lines file of questions about images / videos"
    )
    parser.add_argument(
        "target", type=Path, help="run directory (last finished stage) or checkpoint directory"
    )
    parser.add_argument(
        "--input", "-i", type=Path, required=True,
        help="questions: JSON lines with id, question, image / video / media",
    )
    parser.add_argument("--output", "-o", type=Path, required=True, help="answers: JSON lines, appended")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the output file (another file, or earlier answers); do not append")
    parser.add_argument("--batch-size", type=int, default=16, help="questions per batch (default: 16)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="tokens per answer (default: 64)")
    parser.add_argument("--stage", help="use this stage's output instead of the last one")
    add_frame_args(parser)
    add_media_limit_args(parser)
    parser.add_argument("--template", choices=("vicuna_v1", "llava_v1"), help="conversation template")
    parser.set_defaults(func=run, output_files=("output",))


def run(args: argparse.Namespace) -> int:
    """Answer the rows, with progress; report bad rows."""
    import time

    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    import mmbind
    from mmbind.cli.console import stderr, stdout
    from mmbind.infer import answered_ids, read_rows, run_inference
    from mmbind.inference import Generator, resolve_target, video_sampling
    from mmbind.prompting import get_template

    if args.batch_size < 1 or args.max_new_tokens < 1:
        raise UsageError("--batch-size and --max-new-tokens must be at least 1")
    sampling = frame_sampling(args)
    replace = INFER.claim(args.output, args.overwrite, [args.input]) == "replace"
    rows, bad = read_rows(args.input)
    done = set() if replace else answered_ids(args.output)
    target = resolve_target(args.target, args.stage)
    model = mmbind.load_pretrained(target.model_dir).eval()
    template = get_template(args.template) if args.template else None
    generator = Generator(model, template, video_sampling(target, model, sampling), limits=media_limits(args))
    todo = sum(1 for r in rows if r.id not in done)
    if replace:
        args.output.unlink()  # only once the rows and the model have loaded
    start = time.perf_counter()
    with Progress(TextColumn("[bold]infer"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]:.1f} answers/s"), TimeRemainingColumn(),
                  console=stderr) as bar:
        task = bar.add_task("infer", total=todo, rate=0.0)

        def advance(n: int) -> None:
            bar.update(task, advance=n)
            elapsed = time.perf_counter() - start
            bar.update(task, rate=bar.tasks[task].completed / elapsed if elapsed > 0 else 0.0)

        result = run_inference(
            generator, rows, args.output, done, args.batch_size, args.max_new_tokens, advance
        )
    elapsed = time.perf_counter() - start
    bad += result.bad
    for row in bad:
        stderr.print(f"[yellow]skipped[/] {escape(row.id)}: {escape(row.reason)}", soft_wrap=True)
    stdout.print(f"{result.answered} answered in {elapsed:.1f} s "
                  f"({result.answered / max(elapsed, 1e-9):.1f}/s), "
                  f"{result.skipped_done} already in {args.output}, {len(bad)} bad rows skipped")
    return 1 if todo and not result.answered else 0
