"""run.py

`train`: run a recipe's stages in order inside a run directory, or resume one.

    RUN/recipe.yaml          the resolved recipe (what --resume reads back)
    RUN/metrics.jsonl        one record per logged step; RUN/loss.png the loss curve
    RUN/checkpoints/         ckpt-s<stage>-<step>/ (last N kept)
    RUN/stages/<name>/       each stage's output model (LoRA merged); the next stage starts from it
    RUN/bad_samples.jsonl    skipped samples with the reason; RUN/summary.json at the end

Every stage builds the model from the recipe and loads the previous stage's output (or ``init_from``),
so an uninterrupted run and a resumed one take exactly the same path. Stages of ``kind: align`` / ``mae``
(encoder pre-training) run in `encoder_stage.py`; they restart from scratch when resumed mid-stage.
"""

from __future__ import annotations

import gc
import json
import math
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import torch
import yaml

from mmbind.data.build import build_stage_data
from mmbind.errors import CheckpointError, RecipeError
from mmbind.model.build import build_model
from mmbind.recipe.loader import read_yaml_mapping
from mmbind.recipe.schema import Recipe
from mmbind.recipe.training_schema import DataSpec, StageSpec
from mmbind.registry import Registry
from mmbind.train.checkpoint import list_checkpoints, load_checkpoint, read_state
from mmbind.train.distributed import DistInfo, barrier, init_distributed
from mmbind.train.encoder_stage import run_encoder_stage
from mmbind.train.export import load_weights_from, save_stage_output, stage_dir
from mmbind.train.feature_cache import FeatureCache, encoder_identity
from mmbind.train.lora import merge_lora
from mmbind.train.loop import Callback, Interrupt, StageRunner
from mmbind.train.metrics import MetricsLog
from mmbind.train.progress import ProgressDisplay
from mmbind.train.rng import seed_all
from mmbind.train.setup import Prepared, accumulation_steps, prepare_model, resolve_precision

RECIPE_FILE = "recipe.yaml"  # the resolved recipe of a run directory
SUMMARY_FILE = "summary.json"  # written when train() returns: stage results and "status"


@dataclass
class StageContext:
    """Everything a `StageRunner` needs."""

    name: str  # stage name
    index: int  # position in the recipe
    stage: StageSpec  # its settings
    data: DataSpec  # the recipe's data section
    run_dir: Path  # the run directory
    info: DistInfo  # rank, world, device
    dataset: Any  # ConversationDataset
    order: Any  # EpochOrder
    collator: Any  # Collator
    accum: int  # micro-batches per step per rank
    total_steps: int  # optimizer steps of the stage
    prepared: Prepared  # module, optimizer, scheduler
    display: ProgressDisplay  # progress bar
    metrics: MetricsLog  # metrics.jsonl
    callbacks: list[Callback] = field(default_factory=list)  # called after every step


def run_finished(run_dir: Path) -> bool:
    """Whether every stage of the run in ``run_dir`` has finished (a missing or half-written summary: no)."""
    try:
        summary = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and summary.get("status") == "done"


def read_run_recipe(run_dir: Path) -> dict[str, Any]:
    """The resolved recipe stored in a run directory."""
    path = run_dir / RECIPE_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: not an mmbind run directory ({RECIPE_FILE} is missing)")
    return read_yaml_mapping(path, "run recipe", CheckpointError)


def train(
    recipe: Recipe, run_dir: str | Path, *, resume: bool = False, callbacks: Iterable[Callback] = (),
    progress: bool = True, registry: Registry | None = None,
) -> dict[str, Any]:
    """Run (or resume) every stage of ``recipe``; returns the run summary."""
    run_dir = Path(run_dir)
    if recipe.data is None or not recipe.stages:
        raise RecipeError("training needs the recipe's 'data:' and 'stages:' sections")
    info = init_distributed()
    _prepare_run_dir(recipe, run_dir, resume, info)
    display = ProgressDisplay(progress and info.main)
    metrics = MetricsLog(run_dir, enabled=info.main)
    latest = list_checkpoints(run_dir)[-1] if resume and list_checkpoints(run_dir) else None
    saved = read_state(latest) if latest else None
    summary: dict[str, Any] = {"run_dir": str(run_dir), "status": "done", "stages": {}}
    previous_sigint = _install_sigint()
    try:
        previous: Path | None = None
        for index, (name, stage) in enumerate(recipe.stages.items()):
            out = stage_dir(run_dir, name)
            if resume and out.is_dir():
                previous = out
                continue
            checkpoint = latest if saved and saved["stage_index"] == index and saved["stage"] == name else None
            if resume and info.main:
                metrics.trim(index, read_state(checkpoint)["step"] if checkpoint else 0)
            result = _run_stage(recipe, name, index, stage, run_dir, info, previous, checkpoint, display, metrics,
                                list(callbacks), registry)
            summary["stages"][name] = result
            if result["status"] == "interrupted":
                summary["status"] = "interrupted"
                summary["checkpoint"] = result["checkpoint"]
                break
            previous = out
    finally:
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)
    if info.main:
        metrics.plot()
        (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def _run_stage(
    recipe: Recipe, name: str, index: int, stage: StageSpec, run_dir: Path, info: DistInfo, previous: Path | None,
    checkpoint: Path | None, display: ProgressDisplay, metrics: MetricsLog, callbacks: list[Callback],
    registry: Registry | None,
) -> dict[str, Any]:
    if stage.kind != "lm":  # encoder pre-training (align / mae): see encoder_stage.py
        return run_encoder_stage(recipe, name, index, stage, run_dir, info, previous, display, metrics, callbacks,
                                 registry)
    where = f"stages.{name}"
    if stage.lora is not None and stage.strategy.startswith("fsdp"):
        raise RecipeError(f"{where}: LoRA with strategy fsdp is not supported; use ddp")
    data = recipe.data
    assert data is not None
    model = build_model(recipe, registry)
    init = previous or (Path(stage.init_from) if stage.init_from else None)
    if init is not None:
        load_weights_from(model, init)
    seed_all(stage.seed)
    cache, identities = None, {}
    if data.feature_cache.enabled:
        cache = FeatureCache(data.feature_cache.dir)
        precision = resolve_precision(stage.precision, info.device)
        for modality in model.encoders:
            if "encoders" not in stage.train and f"encoder:{modality}" not in stage.train:
                identities[modality] = encoder_identity(model, modality, data.video_frames, precision)
    dataset, order, collator = build_stage_data(data, name, stage, model, cache, identities)
    accum = accumulation_steps(stage, info.world, where)
    total = stage.max_steps or math.ceil(stage.epochs * order.steps_per_epoch)
    prepared = prepare_model(model, stage, info, total, cache)
    ctx = StageContext(name, index, stage, data, run_dir, info, dataset, order, collator, accum, total, prepared,
                       display, metrics, callbacks)
    runner = StageRunner(ctx)
    if checkpoint is not None:
        saved = load_checkpoint(checkpoint, prepared.module, prepared.optimizer, prepared.scheduler, info,
                                prepared.fsdp)
        runner.restore_state(saved, checkpoint)
        _trim_bad_samples(run_dir, name, saved["step"] // order.steps_per_epoch, info)
    status = runner.run()
    result: dict[str, Any] = {"status": status, "steps": runner.state.step, "total_steps": total,
                              "skipped_samples": runner.state.bad_total}
    if cache is not None and info.main:
        result["feature_cache"] = {"dir": str(cache.directory), "entries": cache.entries(),
                                   "bytes": cache.size_bytes()}
    if status == "interrupted":
        result["checkpoint"] = str(runner.last_checkpoint)
    else:
        merge_lora(model)
        result["output"] = str(save_stage_output(model, prepared.module, stage_dir(run_dir, name), info,
                                                 prepared.fsdp))
        if info.main:
            metrics.plot()
    del ctx, runner, prepared, model
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return result


def _prepare_run_dir(recipe: Recipe, run_dir: Path, resume: bool, info: DistInfo) -> None:
    if resume:
        if not (run_dir / RECIPE_FILE).is_file():
            raise CheckpointError(f"{run_dir}: not an mmbind run directory ({RECIPE_FILE} is missing)")
        return
    if info.main:
        if (run_dir / RECIPE_FILE).is_file():
            raise CheckpointError(f"{run_dir}: a run already lives here; resume it with --resume {run_dir}")
        run_dir.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
        (run_dir / RECIPE_FILE).write_text(text, encoding="utf-8")
    barrier()


def _trim_bad_samples(run_dir: Path, stage: str, from_epoch: int, info: DistInfo) -> None:
    path = run_dir / "bad_samples.jsonl"
    if not info.main or not path.is_file():
        return
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    kept = [r for r in rows if not (r["stage"] == stage and r["epoch"] >= from_epoch)]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")


def _install_sigint() -> Any:
    Interrupt.requested = False
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, Interrupt.handler)
