"""study_phases.py

Benchmark: where the wall time of one study run goes -- a (variant, seed) of ``mmbind ablate`` (train every
stage of ``tiny/study``, then evaluate on every eval set, as `mmbind.ablate.runner.LocalRunner` does) -- split
into phases: process start, imports, recipe loading, and per stage the setup (model building, loading the
previous stage, data indexing, encoder identities for the feature cache, optimizer), the optimizer steps
(the sum of ``step_time_s`` in metrics.jsonl), the rest of the loop (data loading between steps, logging,
checkpoints) and finishing (retrieval check, saving); then the evaluation (loading, generation).

The run happens in a child process (this script with ``--child``) so that process start and imports count;
timers wrap mmbind's functions from outside (nothing in mmbind changes). The dataset is generated into
``--data`` unless it is there already (``mmbind data synth DIR``, default size), and the feature cache is
private to the run, so every run starts cold as a sweep's first run does. ONE JSON object last.

    .venv/bin/python benchmarks/study_phases.py [--data data/study] [--reproducible [--threads T]] [K=V ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

SPAWNED = "MMBIND_BENCH_SPAWNED"  # the parent's time.time() when it started the child


def child(data: Path, run_dir: Path, overrides: list[str]) -> dict:
    """Train and evaluate one study run with timers around its phases; returns the phases in seconds."""
    entered = time.time()
    marks: dict[str, float] = {"start": entered - float(os.environ[SPAWNED])}
    t = time.perf_counter()
    import torch  # noqa: F401

    from mmbind.ablate.runner import LocalRunner
    from mmbind.ablate.schema import EvalSpec
    from mmbind.numerics import configure_torch
    from mmbind.recipe import load_recipe
    marks["imports"] = time.perf_counter() - t

    t = time.perf_counter()
    recipe = load_recipe("tiny/study", [
        f"model.llm.options.tokenizer={data / 'tokenizer'}",
        f"data.datasets.pretrain.files=[{{path: {data / 'pretrain.json'}}}]",
        f"data.datasets.finetune.files=[{{path: {data / 'finetune.json'}}}]",
        f"data.feature_cache.dir={run_dir.parent / 'features'}", *overrides])
    configure_torch()
    marks["recipe"] = time.perf_counter() - t

    spent: dict[str, float] = defaultdict(float)
    stage_of = {"current": ""}

    def wrap(owner, name: str, phase: str, per_stage: bool = True, sets_stage: bool = False):  # type: ignore[no-untyped-def]
        original = getattr(owner, name)

        def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
            if sets_stage:
                stage_of["current"] = args[0].name
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                key = f"{stage_of['current']}.{phase}" if per_stage else phase
                spent[key] += time.perf_counter() - start
        setattr(owner, name, timed)

    import mmbind.train.align as align
    import mmbind.train.loop as loop
    import mmbind.train.model_stage as model_stage
    import mmbind.train.pair_stage as pair_stage
    import mmbind.train.run as run
    wrap(run, "_run_stage", "stage", sets_stage=True)
    wrap(run, "build_objective", "setup")
    for module in (model_stage, pair_stage):
        for name in ("build_model", "load_weights_from", "prepare_model", "prepare_training"):
            if hasattr(module, name):
                wrap(module, name, f"setup.{name}")
    wrap(model_stage, "build_stage_data", "setup.build_stage_data")
    wrap(model_stage, "encoder_identity", "setup.encoder_identity")
    wrap(pair_stage, "MediaCaptions", "setup.media_captions")
    wrap(align, "build_align", "setup.build_align")
    wrap(loop.StageRunner, "run", "loop")
    wrap(loop.StageRunner, "_checkpoint", "loop.checkpoints")

    import mmbind.eval.prepare as prepare
    runner = LocalRunner(progress=False)
    t = time.perf_counter()
    summary = runner.train(recipe, run_dir, resume=False)
    marks["train"] = time.perf_counter() - t
    assert summary["status"] == "done", summary
    import mmbind.ablate.runner as ablate_runner
    original_prepare = ablate_runner.__dict__.get("prepare_eval")
    assert original_prepare is None  # imported inside evaluate(): wrap it where it lives
    wrap(prepare, "prepare_eval", "eval.prepare", per_stage=False)
    t = time.perf_counter()
    runner.evaluate(run_dir, EvalSpec())
    marks["eval"] = time.perf_counter() - t
    steps: dict[str, float] = defaultdict(float)
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "step_time_s" in record:
            steps[record["stage"]] += record["step_time_s"]
    marks["end"] = time.time() - float(os.environ[SPAWNED])
    return {"marks": marks, "spent": dict(spent), "steps": dict(steps)}


def split(raw: dict, wall: float) -> dict:
    """The phases, each once (nested timers turned into the rest of their parent)."""
    marks, spent, steps = raw["marks"], raw["spent"], raw["steps"]
    phases = {"process_start": marks["start"], "imports": marks["imports"], "recipe": marks["recipe"]}
    in_stages = 0.0
    for stage, step_s in steps.items():
        total = spent[f"{stage}.stage"]
        setup = spent[f"{stage}.setup"]
        parts = {k.split(".", 2)[2]: v for k, v in spent.items() if k.startswith(f"{stage}.setup.")}
        loop = spent[f"{stage}.loop"]
        phases[f"{stage}.setup"] = setup
        for name, seconds in parts.items():
            phases[f"{stage}.setup.{name}"] = seconds  # inside setup
        phases[f"{stage}.steps"] = step_s
        phases[f"{stage}.loop_other"] = loop - step_s
        phases[f"{stage}.finish_save"] = total - setup - loop
        in_stages += total
    phases["train_other"] = marks["train"] - in_stages
    phases["eval.prepare"] = spent.get("eval.prepare", 0.0)
    phases["eval.generate"] = marks["eval"] - phases["eval.prepare"]
    phases["exit"] = wall - marks["end"]
    return {k: round(v, 2) for k, v in phases.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="overrides of tiny/study")
    parser.add_argument("--data", type=Path, default=Path("data/study"), help="the study's dataset")
    parser.add_argument("--reproducible", action="store_true", help="in the reproducible numerics mode")
    parser.add_argument("--threads", type=int, default=1, help="threads of the reproducible mode (1)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.data.resolve(), args.child, args.overrides)))
        return 0
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if not (args.data / "manifest.json").is_file():
        subprocess.run([sys.executable, "-m", "mmbind", "data", "synth", str(args.data)], env=env, check=True)
    # the study recipe asks for the reproducible mode itself; the benchmark measures either mode
    mode = [f"numerics.reproducible={str(args.reproducible).lower()}", f"numerics.threads={args.threads}"]
    if args.reproducible:
        from mmbind.numerics import pinned_env

        env.update(pinned_env(args.threads))
    with tempfile.TemporaryDirectory(prefix="mmbind-phases-") as scratch:
        start = time.time()
        env[SPAWNED] = repr(start)
        out = subprocess.run([sys.executable, __file__, "--child", str(Path(scratch) / "run"),
                              "--data", str(args.data), *mode, *args.overrides], env=env, check=True,
                             capture_output=True, text=True)
        wall = time.time() - start
    phases = split(json.loads(out.stdout.strip().splitlines()[-1]), wall)
    steps = sum(v for k, v in phases.items() if k.endswith(".steps"))
    top = {k: v for k, v in phases.items() if k.count(".") <= 1}
    for name, seconds in phases.items():
        print(f"{name:40s} {seconds:7.2f} s", file=sys.stderr)
    print(json.dumps({"benchmark": "study_phases", "wall_s": round(wall, 2),
                      "optimizer_steps_s": round(steps, 2), "outside_steps_s": round(wall - steps, 2),
                      "top_level_sum_s": round(sum(top.values()), 2),
                      "reproducible": args.reproducible and f"threads={args.threads}",
                      "overrides": args.overrides, "phases": phases}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
