"""bench_cmd.py

The ``--benchmark`` path of ``mmbind eval``: read the benchmark, load the model, generate with a progress
bar and ETA (answers kept as they come), judge (a second bar), then a table of the scores with their 95%
intervals and, judged, where the verdicts came from (cache / asked now / invalid) -- or, with ``--json``,
the result object. Missing media are counted and named, never fatal.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from mmbind.cli.argtypes import frame_sampling, media_limits
from mmbind.cli.console import stderr, stdout
from mmbind.errors import UsageError
from mmbind.output_folder import BENCH, replace_folder

if TYPE_CHECKING:
    from mmbind.eval.judge.client import JudgeConfig


def _options(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--bench-option {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def judge_config(args: argparse.Namespace) -> JudgeConfig | None:
    """The judge's `JudgeConfig`, or None for the offline normalised match: the judge is on when
    ``--judge-model`` or ``--judge-base-url`` is given or ``MMBIND_JUDGE_MODEL`` is set (as the help of
    ``--judge-model`` says), unless ``--no-judge``."""
    import os

    from mmbind.eval.judge.client import config_from_env

    wanted = args.judge_model or args.judge_base_url or os.environ.get("MMBIND_JUDGE_MODEL")
    if args.no_judge:
        if args.judge_model or args.judge_base_url:
            raise UsageError("--no-judge cannot be combined with --judge-model / --judge-base-url")
        return None
    if not wanted:
        return None
    extra = {"concurrency": args.judge_concurrency, "retries": args.judge_retries,
             "cache_dir": args.judge_cache}
    return config_from_env(args.judge_model, args.judge_base_url, **extra)


def run_benchmark(args: argparse.Namespace) -> int:
    """``mmbind eval TARGET --benchmark NAME --data DIR ...``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from mmbind.eval.job import EvalSettings
    from mmbind.eval.prepare import prepare_benchmark
    from mmbind.eval.report import result_table, verdicts_line

    if args.data is None:
        raise UsageError("--benchmark needs --data DIR (the benchmark's folder or question file)")
    if args.sets:
        raise UsageError("--set chooses synthetic eval sets; it cannot be combined with --benchmark")
    judge = judge_config(args)
    options = _options(args.bench_option)
    settings = EvalSettings(args.batch_size or 16, args.max_new_tokens, args.limit)
    inputs = [args.run, args.data]
    state = BENCH.claim(args.output, args.overwrite, inputs) if args.output is not None else None  # fail fast
    job = prepare_benchmark(args.run, args.benchmark, args.data, settings, stage=args.stage,
                            template=args.template, frames=frame_sampling(args) or None, output=args.output,
                            judge=judge, limits=media_limits(args), restart=args.restart,
                            options=options)
    output = job.files.folder
    if (state or BENCH.claim(output, args.overwrite, inputs)) == "replace":
        replace_folder(output)  # only once the benchmark and the model have loaded
    if not args.json:
        stdout.print(f"evaluating {job.target.model_dir} on {args.benchmark} ({len(job.items)} questions "
                     f"from {args.data}) -> {output}", highlight=False)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=stderr, transient=True) as progress:
        gen = progress.add_task("generating", total=len(job.items))
        judged = progress.add_task("judging", total=len(job.items), visible=job.judge is not None)
        results = job.run(lambda _, n: progress.advance(gen, n), lambda n: progress.advance(judged, n))
    result = next(iter(results.values()))
    missing = result["missing_media"]
    if missing["count"]:
        first = next(iter(missing["examples"].items()))
        stderr.print(f"[yellow]{missing['count']} question(s) skipped: media missing or unreadable[/] "
                     f"(first: {first[0]}: {first[1]})", highlight=False)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "predictions"}, indent=1))
        return 0
    stdout.print(result_table(result))
    if "verdicts" in result["scorer"]:
        stdout.print(verdicts_line(result["scorer"]["verdicts"]), highlight=False, soft_wrap=True)
    if not result["scorer"].get("comparable_with_paper", True):
        stdout.print(f"[yellow]note:[/] {result['scorer']['label']}", highlight=False)
    stdout.print(f"results: {result['path']}", highlight=False)
    return 0
