"""demo_cmd.py

``mmbind demo``: the whole Video-LLaVA protocol offline on a CPU in minutes — generate the synthetic
benchmark, align the toy encoders, run stage 1 and stage 2, evaluate, and show answers for images and
videos next to the ground truth, then how to chat with the result. Everything goes to ``--out``; a second
call reuses what is finished (an interrupted run resumes).

``--reproducible`` trains and evaluates in the reproducible numerics mode (the same bits on any x86-64
machine; see `mmbind.numerics`).

``mmbind demo --compose-only``: just compose the tiny recipe and run it once (seconds), saving the model
into ``--out``.

``--out`` must be new or empty or a demo folder (`mmbind.output_folder.DEMO_OUT`): a folder holding anything
else (a trained run, a checkpoint, a user's files) is refused unless ``--overwrite``, which replaces it
whole (and makes a demo folder start over).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from mmbind.cli.console import stdout
from mmbind.cli.numerics_args import REPRODUCIBLE_OVERRIDE, add_reproducible_arg, pin_for
from mmbind.output_folder import DEMO, DEMO_OUT, replace_folder

DEFAULT_RECIPE = "tiny/study"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="the embedded study: data, alignment, 2 stages, eval, answers"
    )
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="recipe overrides")
    parser.add_argument("--recipe", default=None, help=f"recipe (default: {DEFAULT_RECIPE})")
    parser.add_argument(
        "--out", type=Path, default=Path("runs/demo"), help="demo folder (default: %(default)s)"
    )
    parser.add_argument("--size", default="default", help="synthetic data size: micro, small, default")
    parser.add_argument("--seed", type=int, default=0, help="data seed (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bars")
    parser.add_argument("--compose-only", action="store_true", help="only compose the tiny model and run it")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a --out folder holding something else (or start a demo folder over)")
    add_reproducible_arg(parser, "train and evaluate the study with")
    parser.set_defaults(func=run, output_folders=("out",))


def run(args: argparse.Namespace) -> int:
    state = DEMO_OUT.claim(args.out, args.overwrite, [Path(args.recipe)] if args.recipe else [])
    if args.compose_only:
        from mmbind.demo.compose import compose_demo

        same = compose_demo(args.recipe or "tiny/video_llava", args.out, replace=state == "replace")
        return 0 if same else 1
    return _study(args, replace=state == "replace")


def _study(args: argparse.Namespace, replace: bool) -> int:
    from rich.table import Table

    import mmbind
    from mmbind.cli.main import main as cli_main
    from mmbind.demo.study import StudyPaths, ensure_data, sample_answers, study_recipe
    from mmbind.eval.metrics import open_correct
    from mmbind.run_folder import RECIPE_FILE, run_finished
    from mmbind.synth import get_size
    from mmbind.train import train

    start = time.perf_counter()
    paths = StudyPaths(args.out)
    overrides = [*args.overrides, *([REPRODUCIBLE_OVERRIDE] if args.reproducible else [])]
    recipe = study_recipe(args.recipe or DEFAULT_RECIPE, paths, overrides)  # bad options fail first
    pin_for(recipe.numerics, args, f"{args.recipe or DEFAULT_RECIPE}: numerics.reproducible")
    get_size(args.size)
    if replace:
        replace_folder(args.out)
    DEMO.write_stamp(args.out, "mmbind demo")
    stdout.rule("[bold]1. synthetic image + video benchmark")
    manifest = ensure_data(paths, args.size, args.seed)
    stdout.print(f"{paths.data}: {json.dumps(manifest.get('counts', {}))}", highlight=False)

    stdout.rule(f"[bold]2. training {recipe.name}: {' -> '.join(recipe.stages or {})}")
    if run_finished(paths.run):
        stdout.print(f"{paths.run} is already trained (delete it to train again)")
    else:
        summary = train(recipe, paths.run, resume=(paths.run / RECIPE_FILE).is_file(),
                        progress=not args.no_progress)
        if summary["status"] != "done":
            stdout.print(f"interrupted; run `mmbind demo --out {args.out}` again to resume")
            return 130

    stdout.rule("[bold]3. evaluation on held-out sets")
    code = cli_main(["eval", str(paths.run)])
    if code:
        return code

    stdout.rule("[bold]4. answers next to the ground truth")
    final = paths.run / "stages" / list(recipe.stages or {})[-1]
    model = mmbind.load_pretrained(final)
    table = Table("modality", "media", "question", "answer", "ground truth")
    for row in sample_answers(model, paths.data, recipe.data.video_frames if recipe.data else 8):
        mark = "green" if open_correct(row["answer"], row["truth"]) else "red"
        table.add_row(
            row["modality"], row["media"], row["question"], f"[{mark}]{row['answer']}[/]", row["truth"]
        )
    stdout.print(table)

    stdout.rule("[bold]5. chat with the result")
    video = next(iter(sorted((paths.data / "eval" / "videos").glob("*.mp4"))), None)
    image = next(iter(sorted((paths.data / "eval" / "images").glob("*.png"))), None)
    if video is not None:
        stdout.print(f"mmbind chat {paths.run} --video {video}", highlight=False)
    if image is not None:
        stdout.print(f"mmbind chat {paths.run} --image {image} --prompt \"What colour is the shape?\"",
                     highlight=False)
    stdout.print(f"done in {time.perf_counter() - start:.0f} s; everything is in {args.out}")
    return 0
