"""eval_cmd.py

``mmbind eval RUN [--set NAME ...] [--data DIR] [--json]``: evaluate a run's last finished stage (or
``--stage``), or any mmbind checkpoint directory, on the synthetic benchmark's held-out sets. Results go
to ``RUN/eval/<set>.json`` (``RUN/eval/<stage>/`` for a stage before the last, ``CHECKPOINT/eval/`` for a
lone checkpoint); the terminal gets a table per set, or with ``--json`` one JSON object with every set's
metrics. Sets whose modality the model has no encoder for are skipped (an error when named by --set).
A run trained in the reproducible numerics mode is evaluated in it too (``--reproducible`` asks for it
for any target).

``mmbind eval TARGET --benchmark NAME --data DIR [--judge-model M]``: a published benchmark from its local
files (a plugin's, mmbind's own included: `mmbind_plugins.benchmarks`), predictions kept in
``<results>/<NAME>/`` and resumed, open answers judged through an OpenAI-compatible endpoint (or scored
offline), every score with its 95% bootstrap interval. An ``--output`` folder must be new or empty or hold
that benchmark's results (`mmbind.output_folder.BENCH`); one holding anything else is refused unless
``--overwrite``, which replaces it whole.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mmbind.cli.argtypes import (
    add_frame_args,
    add_media_limit_args,
    frame_sampling,
    media_limits,
    positive_int,
)
from mmbind.cli.console import stderr, stdout
from mmbind.cli.numerics_args import add_reproducible_arg, pin_for


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` sub-command."""
    parser = subparsers.add_parser("eval", help="evaluate a run or checkpoint on the synthetic eval sets")
    parser.add_argument("run", type=Path, help="run directory (last finished stage) or checkpoint directory")
    parser.add_argument("--set", dest="sets", action="append", metavar="NAME",
                        help="eval set to run (repeatable; default: all sets of the dataset)")
    parser.add_argument("--data", type=Path, help="dataset directory (default: found from the run's recipe)")
    parser.add_argument("--stage", help="evaluate this stage's output instead of the last one")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--batch-size", type=positive_int,
                        help="prompts per generate call (default: 64; 16 with --benchmark)")
    parser.add_argument("--max-new-tokens", type=positive_int,
                        help="tokens per answer (default: 10; with --benchmark 64 for open answers, 16 else)")
    parser.add_argument("--limit", type=positive_int, help="only the first N questions of each set")
    add_frame_args(parser)
    add_media_limit_args(parser)
    parser.add_argument("--template", choices=("vicuna_v1", "llava_v1"),
                        help="conversation template (default: vicuna_v1, as training uses; with --benchmark: "
                             "llava_v1 for converted Video-LLaVA checkpoints)")
    bench = parser.add_argument_group("published benchmarks (--benchmark)")
    bench.add_argument("--benchmark", metavar="NAME",
                       help="msvd_qa, msrvtt_qa, tgif_qa, activitynet_qa, videochatgpt_qa, pope, llava_qa or "
                            "a plugin's; --data is its folder (or question file)")
    bench.add_argument("--bench-option", action="append", default=[], metavar="KEY=VALUE",
                       help="loader option, e.g. videos=DIR, images=DIR, answers=FILE (repeatable)")
    bench.add_argument("--output", type=Path, help="results folder (default: <results>/<benchmark>)")
    bench.add_argument("--restart", action="store_true", help="discard earlier predictions and start over")
    bench.add_argument("--overwrite", action="store_true",
                       help="replace an --output folder holding something else (or a results folder) whole")
    bench.add_argument("--judge-model", help="judge open answers with this model (or MMBIND_JUDGE_MODEL); "
                                             "without one the offline normalised match is used")
    bench.add_argument("--no-judge", action="store_true",
                       help="score open answers offline (normalised match) even when MMBIND_JUDGE_MODEL "
                            "is set")
    bench.add_argument("--judge-base-url", help="OpenAI-compatible endpoint (or MMBIND_JUDGE_BASE_URL, "
                                                "OPENAI_BASE_URL); key: MMBIND_JUDGE_API_KEY, OPENAI_API_KEY")
    bench.add_argument("--judge-concurrency", type=positive_int, default=8, help="requests in flight (8)")
    bench.add_argument("--judge-retries", type=int, default=5, help="retries per request, with backoff (5)")
    bench.add_argument("--judge-cache", type=Path, help="verdict cache (default: ~/.cache/mmbind/judge)")
    add_reproducible_arg(parser, "answer with")
    parser.set_defaults(func=run, output_folders=("output",))


def run(args: argparse.Namespace) -> int:
    """Evaluate and report."""
    pin_for(_run_numerics(args.run), args, f"{args.run}: numerics.reproducible")  # as the run was trained
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from mmbind.eval.job import EvalSettings
    from mmbind.eval.prepare import prepare_eval
    from mmbind.eval.report import result_table, summary

    if args.benchmark:
        from mmbind.cli.bench_cmd import run_benchmark

        return run_benchmark(args)
    if args.sets is None and getattr(args, "bench_option", None):
        stderr.print("--bench-option applies to --benchmark only", highlight=False)
    if args.output is not None or args.overwrite:
        stderr.print("--output / --overwrite apply to --benchmark only", highlight=False)
    settings = EvalSettings(args.batch_size or 64, args.max_new_tokens or 10, args.limit)
    sampling = frame_sampling(args)
    job = prepare_eval(args.run, args.sets, settings,
                       data=args.data, stage=args.stage, template=args.template or "vicuna_v1",
                       frames=sampling or None, limits=media_limits(args))
    target, data_dir, skipped = job.target, job.data, job.skipped
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


def _run_numerics(run: Path):  # type: ignore[no-untyped-def]
    """The ``numerics`` section of a run folder's recipe (None: not a run folder, or the default mode),
    read without importing torch."""
    import yaml

    from mmbind.recipe.numerics_schema import NumericsSpec

    try:
        section = (yaml.safe_load((run / "recipe.yaml").read_text(encoding="utf-8")) or {}).get("numerics")
        return NumericsSpec.model_validate(section) if isinstance(section, dict) else None
    except (OSError, ValueError, AttributeError, yaml.YAMLError):
        return None
