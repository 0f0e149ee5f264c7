"""train_cmd.py

``mmbind train RECIPE [KEY=VALUE ...] [--output RUN_DIR]`` runs a recipe's stages;
``mmbind train --resume RUN_DIR`` continues an interrupted run. Under torchrun every rank runs this
command (``torchrun --nproc-per-node N -m mmbind train ...``). Ctrl-C saves a checkpoint and exits 130;
SIGTERM (a scheduler's preemption) does the same and exits 143. ``--allow-recipe-change PATH[,PATH]``
(repeatable) accepts the named result-altering edits of the run's recipe on ``--resume``.
``--reproducible`` trains in the reproducible numerics mode (``numerics.reproducible=true``, see
`mmbind.numerics`); the run's numerics fingerprint is printed with the stages at the end.
``--report-to NAME[,NAME]`` (``tensorboard``, ``wandb``, ``mlflow``; ``none``: no tracker) replaces the
recipe's ``report_to``, checked as the recipe is (a tracker not installed stops before training).

``--output`` must be new or empty (`mmbind.output_folder.TRAIN`): a run already there is resumed with
``--resume``, and a folder holding anything else is refused unless ``--overwrite``, which replaces it whole
with the new run.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mmbind.cli.console import stderr, stdout
from mmbind.cli.numerics_args import REPRODUCIBLE_OVERRIDE, add_reproducible_arg, pin_for
from mmbind.errors import RecipeError, UsageError
from mmbind.output_folder import TRAIN

if TYPE_CHECKING:
    from mmbind.recipe import Recipe


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command."""
    parser = subparsers.add_parser("train", help="train a recipe's stages (or resume a run)")
    parser.add_argument("recipe", nargs="?",
                        help="recipe YAML or shipped name, e.g. tiny/train (omit with --resume)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="recipe overrides, e.g. stages.finetune.lr=1e-5")
    parser.add_argument("--output", "-o", type=Path, help="run directory (default: runs/<name>-<time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace what --output holds (an earlier run, or anything else) whole")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar")
    parser.add_argument("--allow-recipe-change", action="append", default=[], metavar="FIELD[,FIELD]",
                        help="with --resume: accept these changed recipe fields, e.g. stages.finetune.lr")
    parser.add_argument("--report-to", metavar="NAME[,NAME]",
                        help="experiment trackers (tensorboard, wandb, mlflow; none: no tracker), "
                             "replacing the recipe's report_to")
    add_reproducible_arg(parser, "train (numerics.reproducible=true) for")
    parser.set_defaults(func=run, output_folders=("output",))


def run(args: argparse.Namespace) -> int:
    """Train; returns 0 when every stage finished, 130 after Ctrl-C and 143 after SIGTERM (a checkpoint
    saved)."""
    from mmbind.recipe import load_recipe, recipe_from_dict
    from mmbind.recipe.paths import resolve_recipe_path
    from mmbind.run_folder import read_run_recipe
    from mmbind.train import train
    from mmbind.train.distributed import shutdown

    allow = [path.strip() for item in args.allow_recipe_change for path in item.split(",") if path.strip()]
    if allow and args.resume is None:
        raise RecipeError("--allow-recipe-change applies to --resume only")
    if args.overwrite and args.resume is not None:
        raise UsageError("--overwrite starts a new run over whatever --output holds; it cannot resume one")
    if args.resume is not None:
        if args.recipe or args.overrides:
            raise RecipeError("--resume continues a run with its stored recipe; give no RECIPE or overrides")
        run_dir = args.resume
        stored = read_run_recipe(run_dir)
        if args.reproducible:  # a change of the stored recipe, which the lock refuses unless allowed
            stored = {**stored, "numerics": {**(stored.get("numerics") or {}), "reproducible": True}}
        recipe = recipe_from_dict(stored, source=str(run_dir / "recipe.yaml"))
    else:
        if not args.recipe:
            raise RecipeError("give a RECIPE to train, or --resume RUN_DIR")
        overrides = [*args.overrides, *([REPRODUCIBLE_OVERRIDE] if args.reproducible else [])]
        recipe = load_recipe(resolve_recipe_path(args.recipe), overrides)
        run_dir = args.output or Path("runs") / f"{recipe.name or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
    pin_for(recipe.numerics, args, f"{args.recipe or run_dir}: numerics.reproducible")
    if args.report_to is not None:
        recipe = _with_trackers(recipe, args.report_to)
    # every rank checks before any rank can write (they meet in train's rendezvous); rank 0 replaces
    replace = args.resume is None and TRAIN.claim(run_dir, args.overwrite, _inputs(recipe)) == "replace"
    try:
        summary = train(recipe, run_dir, resume=args.resume is not None, progress=not args.no_progress,
                        allow_recipe_change=allow, overwrite=replace)
    finally:
        shutdown()
    stopped = 143 if summary.get("signal") == "SIGTERM" else 130
    if os.environ.get("RANK", "0") != "0":
        return stopped if summary["status"] == "interrupted" else 0
    if summary["status"] == "interrupted":
        # every stage kind saves a checkpoint when it stops on a signal, so there always is one
        stderr.print(f"interrupted: checkpoint {summary['checkpoint']}; continue with: "
                     f"mmbind train --resume {run_dir}", highlight=False)
        return stopped
    for name, stage in summary["stages"].items():
        stdout.print(f"{name}: {stage['steps']} steps, {stage['skipped_samples']} skipped sample(s) -> "
                     f"{stage['output']}", highlight=False)
    stdout.print(f"numerics: {_numerics_line(run_dir)}", highlight=False, soft_wrap=True)
    stdout.print(f"run directory: {run_dir}", highlight=False)
    return 0


def _numerics_line(run_dir: Path) -> str:
    """The run's numerics fingerprint in one line (RUN/numerics.json)."""
    from mmbind.numerics import fingerprint_id, fingerprint_text, read_run_numerics

    stored = read_run_numerics(run_dir)
    fp = stored["fingerprint"] if stored else None
    return f"{fingerprint_text(fp)} (fingerprint {fingerprint_id(fp)}, {run_dir / 'numerics.json'})"


def _with_trackers(recipe: Recipe, option: str) -> Recipe:
    """``recipe`` with ``report_to`` replaced by the names of ``--report-to`` (validated again)."""
    from mmbind.recipe import recipe_from_dict

    names = [name.strip() for name in option.split(",") if name.strip()]
    names = [] if names == ["none"] else names
    return recipe_from_dict({**recipe.model_dump(mode="json"), "report_to": names}, source="--report-to")


def _inputs(recipe: Recipe) -> list[Path]:
    """What a new run reads (data files, stage starting points), never to be replaced by ``--overwrite``."""
    datasets = recipe.data.datasets.values() if recipe.data else ()
    named = [f.path or f.shards for d in datasets for f in d.files]
    files = [Path(name) for name in named if name and "://" not in name]  # a local file or shard folder
    return files + [Path(s.init_from) for s in (recipe.stages or {}).values() if s.init_from]
