"""ablate_cmd.py

``mmbind ablate SWEEP [KEY=VALUE ...] [--output DIR] [--seeds S,...] [--dry-run | --report-only]``: run an
ablation sweep (see `mmbind.ablate`): every (variant, seed) trained in ``OUTPUT/<variant>/seed<K>/`` and
evaluated, finished runs skipped, interrupted ones resumed; then mean ± std over seeds in the terminal and
in ``OUTPUT/results.{md,csv,json,png}``. A missing recipe or bad override in any variant is reported before
anything runs. ``--jobs N`` runs N runs at once, each in its own process (`mmbind.ablate.parallel`);
``--reproducible`` trains every run in the reproducible numerics mode; comparisons refuse to pair runs
trained under different numerics unless ``--allow-mixed-numerics``. Ctrl-C saves a checkpoint and exits
130; the same command resumes. The sweep folder must be new or empty or a sweep folder
(`mmbind.output_folder.ABLATE`); one holding anything else is refused unless ``--overwrite``, which
replaces it whole (and makes a sweep folder start over).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from mmbind.cli.argtypes import positive_int
from mmbind.cli.console import stderr, stdout
from mmbind.cli.numerics_args import REPRODUCIBLE_OVERRIDE, add_reproducible_arg, pin_for
from mmbind.errors import SweepError
from mmbind.output_folder import ABLATE, replace_folder

if TYPE_CHECKING:
    from rich.table import Table


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``ablate`` sub-command."""
    parser = subparsers.add_parser("ablate", help="run an ablation sweep: variants x seeds, then mean ± std")
    parser.add_argument("sweep", help="sweep YAML, or a shipped name such as ablations/joint_training")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="recipe overrides for every variant, e.g. stages.finetune.max_steps=2")
    parser.add_argument("--output", "-o", type=Path, help="sweep folder (default: the sweep's output)")
    parser.add_argument("--seeds", type=_seed_list, metavar="S[,S...]",
                        help="run these seeds instead of the sweep's, e.g. 0 for a quick look")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="resolve and show the runs; run nothing")
    mode.add_argument("--report-only", action="store_true", help="only tabulate the runs evaluated so far")
    mode.add_argument("--overwrite", action="store_true",
                      help="replace an output folder holding something else (or start a sweep over)")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bars")
    parser.add_argument("--jobs", "-j", type=positive_int, metavar="N",
                        help="run N runs at once, each in its own process with cores/N threads (default: one "
                             "by one in this process)")
    add_reproducible_arg(parser, "train every run (numerics.reproducible=true) for")
    parser.add_argument("--allow-mixed-numerics", action="store_true",
                        help="compare runs trained under different numerics (refused by default)")
    parser.set_defaults(func=run, output_folders=("output",))


def _seed_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def plan_table(plan) -> Table:  # type: ignore[no-untyped-def]
    """The runs of a plan (each in OUTPUT/<variant>/seed<K>/) and their statuses."""
    from rich.table import Table

    table = Table(title=f"{plan.sweep.name}: {len(plan.runs)} run(s) in {plan.output}/", title_justify="left")
    for name in ("variant", "label", "seed", "stages", "status"):
        table.add_column(name, overflow="fold")
    for run in plan.runs:
        stages = ", ".join(run.recipe.stages or {})
        table.add_row(run.variant, plan.labels[run.variant], str(run.seed), stages, run.status)
    return table


def run(args: argparse.Namespace) -> int:
    """Run the sweep; 0 when every run is done, 130 when interrupted (rerun to resume)."""
    from mmbind.ablate import LocalRunner, SweepExecutor, load_plan, tabulate
    from mmbind.ablate.report import rich_table
    from mmbind.recipe.paths import resolve_recipe_path

    sweep_path = resolve_recipe_path(args.sweep)
    overrides = [*args.overrides, *([REPRODUCIBLE_OVERRIDE] if args.reproducible else [])]
    plan = load_plan(sweep_path, args.output, overrides, seeds=args.seeds, fresh=args.overwrite)
    if args.dry_run:
        stdout.print(plan_table(plan))
        return 0
    if not args.report_only and args.jobs is None:
        _pin_in_process(plan, args)
    if ABLATE.claim(plan.output, args.overwrite, [sweep_path]) == "replace":
        replace_folder(plan.output)  # only now: a bad sweep or variant has failed in load_plan
    outcome = None
    if not args.report_only:
        runner = LocalRunner(stderr, progress=not args.no_progress)
        outcome = SweepExecutor(runner, stderr).execute(plan, jobs=args.jobs)
    table, files = tabulate(plan, args.allow_mixed_numerics)
    stdout.print(rich_table(table))
    written = ", ".join(str(files[k]) for k in ("markdown", "csv", "png"))
    stdout.print(f"results: {written}", highlight=False, soft_wrap=True)
    if outcome is not None and outcome.status == "interrupted":
        again = " ".join(["mmbind ablate", args.sweep, *args.overrides,
                          *(["--output", str(args.output)] if args.output else []),
                          *(["--seeds", ",".join(map(str, args.seeds))] if args.seeds else []),
                          *(["--jobs", str(args.jobs)] if args.jobs else []),
                          *(["--reproducible"] if args.reproducible else [])])
        stderr.print(f"interrupted (checkpoint {outcome.checkpoint}); the same command resumes the sweep: "
                     f"{again}", highlight=False, soft_wrap=True)
        return 130
    return 0


def _pin_in_process(plan, args: argparse.Namespace) -> None:  # type: ignore[no-untyped-def]
    """Runs made in this process share its numerics: pin it when they ask for the reproducible mode (they
    must all ask for the same numerics; ``--jobs`` gives each run its own process)."""
    pending = [r for r in plan.runs if r.status != "done"]
    specs = [r.recipe.numerics for r in pending]
    kinds = {(n.reproducible, n.threads if n.reproducible else 0) for n in specs}
    if len(kinds) > 1:
        names = ", ".join(sorted({r.variant for r in pending if r.recipe.numerics.reproducible}))
        raise SweepError(f"{args.sweep}: variants ask for different numerics (reproducible: {names}), which "
                         "one process cannot give; run them with --jobs 1 (each run in its own process)")
    if pending:
        pin_for(pending[0].recipe.numerics, args, f"{args.sweep}: numerics.reproducible")
