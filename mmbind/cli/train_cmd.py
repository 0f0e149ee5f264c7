"""train_cmd.py

``mmbind train RECIPE [KEY=VALUE ...] [--output RUN_DIR]`` runs a recipe's stages;
``mmbind train --resume RUN_DIR`` continues an interrupted run. Under torchrun every rank runs this
command (``torchrun --nproc-per-node N -m mmbind train ...``). Ctrl-C saves a checkpoint and exits 130.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from mmbind.cli.console import stderr, stdout
from mmbind.errors import RecipeError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` sub-command."""
    parser = subparsers.add_parser("train", help="train a recipe's stages (or resume a run)")
    parser.add_argument("recipe", nargs="?", help="recipe YAML or shipped name, e.g. tiny/train (omit with --resume)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="recipe overrides, e.g. stages.finetune.lr=1e-5")
    parser.add_argument("--output", "-o", type=Path, help="run directory (default: runs/<name>-<time>)")
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train; returns 0 when every stage finished, 130 when interrupted (checkpoint saved)."""
    from mmbind.recipe import load_recipe, recipe_from_dict
    from mmbind.recipe.paths import resolve_recipe_path
    from mmbind.train import read_run_recipe, train
    from mmbind.train.distributed import shutdown

    if args.resume is not None:
        if args.recipe or args.overrides:
            raise RecipeError("--resume continues a run with its stored recipe; give no RECIPE or overrides")
        run_dir = args.resume
        recipe = recipe_from_dict(read_run_recipe(run_dir), source=str(run_dir / "recipe.yaml"))
    else:
        if not args.recipe:
            raise RecipeError("give a RECIPE to train, or --resume RUN_DIR")
        recipe = load_recipe(resolve_recipe_path(args.recipe), args.overrides)
        run_dir = args.output or Path("runs") / f"{recipe.name or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        summary = train(recipe, run_dir, resume=args.resume is not None, progress=not args.no_progress)
    finally:
        shutdown()
    if os.environ.get("RANK", "0") != "0":
        return 130 if summary["status"] == "interrupted" else 0
    if summary["status"] == "interrupted":
        saved = summary["checkpoint"] or "none (an align / mae stage restarts from its beginning)"
        stderr.print(f"interrupted: checkpoint {saved}; continue with: "
                     f"mmbind train --resume {run_dir}", highlight=False)
        return 130
    for name, stage in summary["stages"].items():
        stdout.print(f"{name}: {stage['steps']} steps, {stage['skipped_samples']} skipped sample(s) -> "
                     f"{stage['output']}", highlight=False)
    stdout.print(f"run directory: {run_dir}", highlight=False)
    return 0
