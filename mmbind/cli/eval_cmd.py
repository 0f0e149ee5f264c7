"""eval_cmd.py

``mmbind eval RUN [--set NAME ...] [--data DIR] [--json]``: evaluate a run's last finished stage (or
``--stage``), or any mmbind checkpoint directory, on the synthetic benchmark's held-out sets. Results go
to ``RUN/eval/<set>.json`` (``RUN/eval/<stage>/`` for a stage before the last, ``CHECKPOINT/eval/`` for a
lone checkpoint); the terminal gets a table per set, or with ``--json`` one JSON object with every set's
metrics. Sets whose modality the model has no encoder for are skipped (an error when named by --set).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mmbind.cli.argtypes import positive_int
from mmbind.cli.console import stderr, stdout


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` sub-command."""
    parser = subparsers.add_parser("eval", help="evaluate a run or checkpoint on the synthetic eval sets")
    parser.add_argument("run", type=Path, help="run directory (last finished stage) or checkpoint directory")
    parser.add_argument("--set", dest="sets", action="append", metavar="NAME",
                        help="eval set to run (repeatable; default: all sets of the dataset)")
    parser.add_argument("--data", type=Path, help="dataset directory (default: found from the run's recipe)")
    parser.add_argument("--stage", help="evaluate this stage's output instead of the last one")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--batch-size", type=positive_int, default=64,
                        help="prompts per generate call (default: 64)")
    parser.add_argument("--max-new-tokens", type=positive_int, default=10,
                        help="tokens per answer (default: 10)")
    parser.add_argument("--limit", type=positive_int, help="only the first N questions of each set")
    parser.add_argument("--frames", type=positive_int,
                        help="frames per video (default: the run's data.video_frames)")
    parser.add_argument("--template", choices=("vicuna_v1", "llava_v1"), default="vicuna_v1",
                        help="conversation template (default: vicuna_v1, as training uses)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and report."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from mmbind.eval import EvalSettings, prepare_eval
    from mmbind.eval.report import result_table, summary

    job = prepare_eval(args.run, args.sets, EvalSettings(args.batch_size, args.max_new_tokens, args.limit),
                       data=args.data, stage=args.stage, template=args.template, frames=args.frames)
    target, data_dir, skipped = job.target, job.data_dir, job.skipped
    if not args.json:
        stdout.print(f"evaluating {target.model_dir}" + (f" (stage {target.stage})" if target.stage else "")
                     + f" on {data_dir}", highlight=False)
    for s in skipped:
        stderr.print(f"skipping {s.name}: the model has no {s.modality} encoder", highlight=False)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr, transient=True) as progress:
        tasks = {name: progress.add_task(name, total=n) for name, n in job.prompt_counts().items()}
        results = job.run(lambda name, done: progress.advance(tasks[name], done))
    if args.json:
        print(json.dumps(summary(target, results, [s.name for s in skipped]), indent=1))
        return 0
    for result in results.values():
        stdout.print(result_table(result))
    stdout.print(f"results: {target.results_dir}/<set>.json", highlight=False)
    return 0
