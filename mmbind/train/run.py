"""run.py

`train`: run a recipe's stages in order inside a run directory, or resume one.

    RUN/recipe.yaml          the resolved recipe (what --resume reads back)
    RUN/recipe.lock.json     the recipe the run was trained with (a resume refuses result-altering changes)
    RUN/metrics.jsonl        one record per logged step; RUN/loss.png the loss curve
    RUN/checkpoints/         ckpt-s<stage>-<step>/ (last N kept)
    RUN/stages/<name>/       each stage's output model (LoRA merged); the next stage starts from it
    RUN/reference/<name>.safetensors   a dpo stage's precomputed reference (dpo_reference.py)
    RUN/bad_samples.jsonl    skipped samples with the reason; RUN/summary.json at the end
    RUN/numerics.json        the numerics fingerprint it was trained under (`mmbind.numerics`)
    RUN/trackers.json        the run ids of the recipe's trackers (``report_to``), reused on resume;
                             RUN/tensorboard/, RUN/wandb/, RUN/mlruns/ where those trackers write by default

Every stage builds the model from the recipe and loads the previous stage's output (or ``init_from``),
so an uninterrupted run and a resumed one take exactly the same path. A stage's kind is a plugin
(`mmbind.registry.StageKindEntry`, the built-in ones in `builtin_kinds.py`) that builds an `Objective`, run
by the one `loop.StageRunner`.

Resuming: the recipe is checked against the run's lock (`recipe_lock.py`), torn last lines of the logs are
cut off, and the newest checkpoint that verifies is used (`checkpoint.resume_checkpoint`). SIGINT and
SIGTERM both stop at the next step boundary with a checkpoint (the summary's ``signal`` says which). A
write that fails for lack of space or permission is one `StorageError`; the run stays resumable.
"""

from __future__ import annotations

import gc
import json
import signal
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

from mmbind.errors import CheckpointError, MmbindError, RecipeError
from mmbind.numerics import configure_torch, ensure_pinned, fingerprint, record_run_numerics
from mmbind.output_folder import TRAIN, replace_folder
from mmbind.recipe.schema import Recipe
from mmbind.registry import Registry, default_registry
from mmbind.run_folder import RECIPE_FILE, SUMMARY_FILE, stage_dir
from mmbind.train.checkpoint import load_checkpoint, read_state, resume_checkpoint
from mmbind.train.distributed import DistInfo, barrier, init_distributed
from mmbind.train.jsonl_log import read_jsonl, repair_jsonl
from mmbind.train.loop import Interrupt, StageRunner
from mmbind.train.metrics import METRICS, MetricsLog
from mmbind.train.objective import Callback, Objective, StageContext
from mmbind.train.progress import ProgressDisplay
from mmbind.train.recipe_lock import check_recipe_change, recipe_data, write_lock
from mmbind.train.storage import is_storage_error, storage_error, write_text_atomic
from mmbind.train.trackers import Trackers

BAD_SAMPLES = "bad_samples.jsonl"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # both stop at the next step boundary with a checkpoint


def train(
    recipe: Recipe, run_dir: str | Path, *, resume: bool = False, callbacks: Iterable[Callback] = (),
    progress: bool = True, registry: Registry | None = None, allow_recipe_change: Sequence[str] = (),
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run (or resume) every stage of ``recipe``; returns the run summary. On resume, result-altering
    recipe changes must be named in ``allow_recipe_change`` (field paths, e.g. ``stages.finetune.lr``).
    ``overwrite``: a new run replaces whatever ``run_dir`` holds (`mmbind.output_folder.replace_folder`);
    without it a run already there is refused."""
    run_dir = Path(run_dir)
    if recipe.data is None or not recipe.stages:
        raise RecipeError("training needs the recipe's 'data:' and 'stages:' sections")
    if recipe.numerics.reproducible:  # pinned by the CLI before torch started; a library caller must do it
        ensure_pinned(recipe.numerics.threads, reexec=False, who=f"{run_dir}: numerics.reproducible")
    configure_torch()
    info = init_distributed()
    display = ProgressDisplay(progress and info.main)
    previous_handlers = _install_stop_handlers()
    try:
        return _train(recipe, run_dir, resume, list(callbacks), registry, allow_recipe_change, info, display,
                      overwrite)
    except MmbindError:
        raise
    except Exception as exc:
        if is_storage_error(exc):
            raise storage_error(exc, run_dir) from None
        raise
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


def _train(
    recipe: Recipe, run_dir: Path, resume: bool, callbacks: list[Callback], registry: Registry | None,
    allow: Sequence[str], info: DistInfo, display: ProgressDisplay, overwrite: bool = False,
) -> dict[str, Any]:
    _prepare_run_dir(recipe, run_dir, resume, info, allow, display, overwrite)
    trackers = None
    if info.main and recipe.report_to:
        trackers = Trackers.open(recipe.report_to, run_dir, recipe_data(recipe), recipe.name, resume)
    status = "failed"
    try:
        summary = _run_stages(recipe, run_dir, resume, callbacks, registry, info, display,
                              MetricsLog(run_dir, enabled=info.main, trackers=trackers))
        status = summary["status"]
        return summary
    finally:
        if trackers is not None:
            trackers.close(status)


def _run_stages(
    recipe: Recipe, run_dir: Path, resume: bool, callbacks: list[Callback], registry: Registry | None,
    info: DistInfo, display: ProgressDisplay, metrics: MetricsLog,
) -> dict[str, Any]:
    latest = resume_checkpoint(run_dir, info, display.note) if resume else None
    saved = read_state(latest) if latest else None
    summary: dict[str, Any] = {"run_dir": str(run_dir), "status": "done", "stages": {}}
    if info.main:
        record_run_numerics(run_dir, fingerprint(info.device, info.world), resume)
    previous: Path | None = None
    for index, (name, stage) in enumerate(recipe.stages.items()):  # type: ignore[union-attr]
        out = stage_dir(run_dir, name)
        if resume and out.is_dir():
            previous = out
            continue
        checkpoint = latest if saved and saved["stage_index"] == index and saved["stage"] == name else None
        if resume and info.main:
            metrics.trim(index, read_state(checkpoint)["step"] if checkpoint else 0)
        init = previous or (Path(stage.init_from) if stage.init_from else None)
        ctx = StageContext(recipe, name, index, stage, run_dir, info, init, display, metrics, callbacks,
                           registry)
        result = _run_stage(ctx, checkpoint)
        summary["stages"][name] = result
        if result["status"] == "interrupted":
            summary["status"] = "interrupted"
            summary["checkpoint"] = result["checkpoint"]
            summary["signal"] = signal.Signals(Interrupt.signum).name
            break
        previous = out
    if info.main:
        metrics.plot()
        write_text_atomic(run_dir / SUMMARY_FILE, json.dumps(summary, indent=1) + "\n")
    return summary


def _run_stage(ctx: StageContext, checkpoint: Path | None) -> dict[str, Any]:
    """Build the stage's objective, run (or continue) its steps, save its output; returns its summary
    entry."""
    objective = build_objective(ctx)
    runner = StageRunner(ctx, objective)
    p = objective.prepared
    if checkpoint is not None:
        saved = load_checkpoint(checkpoint, p.module, p.optimizer, p.scheduler, ctx.info, p.fsdp)
        runner.restore_state(saved, checkpoint)
        _trim_bad_samples(ctx.run_dir, ctx.name, saved["step"] // objective.order.steps_per_epoch, ctx.info)
    status = runner.run()
    result: dict[str, Any] = {"status": status, "kind": objective.kind, "steps": runner.state.step,
                              "total_steps": runner.total_steps, "skipped_samples": runner.state.bad_total}
    if status == "interrupted":
        result["checkpoint"] = str(runner.last_checkpoint)
    else:
        result.update(objective.finish())
        result["output"] = str(objective.save(stage_dir(ctx.run_dir, ctx.name)))
        if ctx.info.main:
            ctx.metrics.plot()
    del runner, p, objective
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return result


def build_objective(ctx: StageContext) -> Objective:
    """The objective of the stage's kind, built by the plugin that contributes it."""
    entry = (ctx.registry or default_registry()).get("stage_kind", ctx.stage.kind)
    return entry.build(ctx)  # type: ignore[union-attr]


def _prepare_run_dir(
    recipe: Recipe, run_dir: Path, resume: bool, info: DistInfo, allow: Sequence[str],
    display: ProgressDisplay, overwrite: bool = False,
) -> None:
    if resume:
        if not (run_dir / RECIPE_FILE).is_file():
            raise CheckpointError(f"{run_dir}: not an mmbind run directory ({RECIPE_FILE} is missing)")
        accepted = check_recipe_change(run_dir, recipe, allow)
        if info.main:
            for change in accepted:
                display.note(f"recipe change accepted: {change}")
            write_lock(run_dir, recipe)
            resolved = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
            write_text_atomic(run_dir / RECIPE_FILE, resolved)
            for log in (METRICS, BAD_SAMPLES):
                if repair_jsonl(run_dir / log):
                    display.note(f"warning: {run_dir / log} ended in a half-written line; it was cut off")
        barrier()
        return
    if info.main:
        if overwrite:
            replace_folder(run_dir)
        elif (run_dir / RECIPE_FILE).is_file():
            raise CheckpointError(TRAIN.refusal(run_dir))
        run_dir.mkdir(parents=True, exist_ok=True)
        write_lock(run_dir, recipe)
        resolved = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
        write_text_atomic(run_dir / RECIPE_FILE, resolved)
    barrier()


def _trim_bad_samples(run_dir: Path, stage: str, from_epoch: int, info: DistInfo) -> None:
    path = run_dir / BAD_SAMPLES
    if not info.main or not path.is_file():
        return
    kept = [r for r in read_jsonl(path) if not (r.get("stage") == stage and r.get("epoch", 0) >= from_epoch)]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))


def _install_stop_handlers() -> dict[int, Any]:
    """SIGINT and SIGTERM set `Interrupt` (main thread only); returns the handlers to restore."""
    Interrupt.requested = False
    Interrupt.signum = int(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {int(s): signal.signal(s, Interrupt.handler) for s in STOP_SIGNALS}
