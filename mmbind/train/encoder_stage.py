"""encoder_stage.py

Running an encoder pre-training stage (``kind: align`` or ``kind: mae``) inside `mmbind.train.train`.

The stage builds the model, loads the previous stage's output (or ``init_from``), seeds everything with the
stage's seed, trains its objective (`align.AlignObjective` / `mae.MaeObjective`) on media-caption pairs of
its dataset, and saves the whole model as ``RUN/stages/<name>/`` with the objective's extra outputs inside
(written atomically with it). Shared with LM stages: AdamW + scheduler from the stage settings (weight
decay on matrices only), gradient clipping, ``metrics.jsonl`` records, the progress bar, callbacks,
NaN/inf detection, Ctrl-C at a step boundary, bad-sample skipping (``RUN/bad_samples.jsonl``).

Differences (documented limits): one forward pass of ``global_batch`` pairs per step (contrastive
negatives need the whole batch; no gradient accumulation, ``per_device_batch`` = ``global_batch``); the
last partial batch of an epoch is dropped; file ``weight``s other than 0 are not applied (each pair once per
epoch); no mid-stage checkpoints: an interrupted stage restarts from scratch on ``--resume`` (a finished
one, whose output exists, is skipped); with several ranks every rank runs the same computation and rank 0
writes. Deterministic for a seed (data order, masking, initialisation).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader

from mmbind.data.build import pad_id
from mmbind.errors import DataError, RecipeError
from mmbind.model.build import build_model
from mmbind.recipe.schema import Recipe
from mmbind.recipe.training_schema import StageSpec
from mmbind.train.align import build_align, retrieval_accuracy, save_align
from mmbind.train.caption_data import MediaCaptions, PairBatch, PairCollator, stage_sources
from mmbind.train.distributed import DistInfo
from mmbind.train.export import load_weights_from, save_stage_output, stage_dir
from mmbind.train.loop import Interrupt, NonFiniteLossError, StepInfo
from mmbind.train.mae import build_mae
from mmbind.train.optim import build_optimizer, build_scheduler, decay_groups
from mmbind.train.rng import seed_all
from mmbind.train.setup import autocast_for, resolve_precision


@dataclass
class EncoderStage:
    """What the loop of an align / mae stage works with."""

    name: str  # stage name
    index: int  # position in the recipe
    stage: StageSpec  # its settings
    objective: Any  # AlignObjective | MaeObjective (an nn.Module)
    encoder: Any  # the encoder being trained
    dataset: MediaCaptions  # its pairs
    collator: PairCollator  # batches them
    frames: int | None  # frames per video item, None for images
    precision: str  # fp32 | bf16_mixed
    params: list[torch.nn.Parameter]  # trainable parameters
    optimizer: torch.optim.Optimizer  # AdamW
    scheduler: Any  # LR schedule
    total: int  # optimizer steps
    per_epoch: int  # steps per epoch
    workers: int  # DataLoader workers (0 when pixels are kept in memory: they would not be shared)


def run_encoder_stage(
    recipe: Recipe, name: str, index: int, stage: StageSpec, run_dir: Path, info: DistInfo, previous: Path | None,
    display: Any, metrics: Any, callbacks: list[Any], registry: Any,
) -> dict[str, Any]:
    """Run one align / mae stage; returns its summary entry (status, steps, output, retrieval...)."""
    model = build_model(recipe, registry)
    init = previous or (Path(stage.init_from) if stage.init_from else None)
    if init is not None:
        load_weights_from(model, init)
    seed_all(stage.seed)
    opts = stage.kind_options()
    spec = None
    if stage.kind == "align":
        objective, spec = build_align(model, opts, run_dir, registry, f"stages.{name}")
    else:
        objective = build_mae(model, opts, f"stages.{name}")
    s = _prepare(recipe, name, index, stage, model, objective, info)
    bad: list[dict[str, Any]] = []
    display.start(name, s.total, 0)
    try:
        on_bad = recipe.data.on_bad_sample  # type: ignore[union-attr]
        steps = _loop(s, on_bad, info, display, metrics, callbacks, bad)
    finally:
        display.stop()
    result: dict[str, Any] = {"status": "done" if steps == s.total else "interrupted", "kind": stage.kind,
                              "steps": steps, "total_steps": s.total, "skipped_samples": len(bad)}
    if info.main and bad:
        with (run_dir / "bad_samples.jsonl").open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in bad)
    if result["status"] == "interrupted":
        result["checkpoint"] = None  # no mid-stage checkpoints: --resume restarts this stage
        return result
    if stage.kind == "align" and opts.eval_pairs:
        found = retrieval_accuracy(objective, s.dataset, s.collator, opts.eval_pairs, info.device)
        result["retrieval"] = found
        display.note(f"{name}: {opts.modality}->caption top-1 {found['media_to_text_top1']:.3f} over "
                     f"{found['pairs']} training pairs (chance {found['chance']:.3f})")
    objective.to("cpu")

    def extra_outputs(directory: Path) -> None:
        if stage.kind == "align":
            save_align(objective, spec, opts.modality, directory)
        else:
            objective.save(directory)

    output = save_stage_output(model, model, stage_dir(run_dir, name), info, False, extra_outputs)
    result["output"] = str(output)
    if info.main:
        metrics.plot()
    return result


def _prepare(
    recipe: Recipe, name: str, index: int, stage: StageSpec, model: Any, objective: Any, info: DistInfo,
) -> EncoderStage:
    """Device, precision, data and optimizer of a stage."""
    where, data, opts = f"stages.{name}", recipe.data, stage.kind_options()
    assert data is not None
    precision = resolve_precision(stage.precision, info.device)
    if precision == "bf16":
        raise RecipeError(f"{where}.precision: kind {stage.kind} trains in fp32 or bf16_mixed, not bf16")
    objective.float().to(info.device).train()
    encoder = objective.encoder if stage.kind == "align" else model.encoders[opts.modality]
    frames = data.video_frames if encoder.item_shape[0] is None else None
    tokenizer = model.llm.tokenizer if stage.kind == "align" else None
    max_text = objective.text.max_length if stage.kind == "align" else 0
    sources = stage_sources(data, name, stage.dataset)
    dataset = MediaCaptions(sources, opts.modality, encoder.media_transform(), frames, tokenizer, max_text,
                            data.video_backend, stage.seed, opts.cache_media)
    per_epoch = len(dataset) // stage.global_batch
    if per_epoch == 0:
        raise RecipeError(f"{where}: {len(dataset)} {opts.modality} item(s) in dataset "
                          f"{stage.dataset or name!r}, fewer than global_batch {stage.global_batch}")
    total = stage.max_steps or max(1, math.ceil(stage.epochs * per_epoch))
    params = [p for p in objective.parameters() if p.requires_grad]
    optimizer = build_optimizer(decay_groups(params, stage.lr, stage.weight_decay), stage)
    collator = PairCollator(pad_id(tokenizer) if tokenizer is not None else 0)
    workers = 0 if opts.cache_media else data.num_workers
    return EncoderStage(name, index, stage, objective, encoder, dataset, collator, frames, precision, params,
                        optimizer, build_scheduler(optimizer, stage, total), total, per_epoch, workers)


def _loop(
    s: EncoderStage, on_bad: str, info: DistInfo, display: Any, metrics: Any, callbacks: list[Any],
    bad: list[dict[str, Any]],
) -> int:
    """Train for ``s.total`` steps (or until Ctrl-C); returns the steps done."""
    step, mark = 0, time.perf_counter()
    for epoch, batch in _batches(s):
        for item in batch.bad:
            if on_bad == "fail":
                raise DataError(f"stage {s.name}: bad sample {item.id} ({item.reason}); "
                                "set data.on_bad_sample: skip to skip such samples")
            bad.append({"stage": s.name, "epoch": epoch, "id": item.id, "reason": item.reason})
        lr = s.optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        loss, extra = _step(s, batch, info, step)
        step += 1
        now = time.perf_counter()
        tokens = int(batch.text_mask.sum()) + len(batch.ids) * s.encoder.tokens_per_item(s.frames)
        record = {"stage": s.name, "stage_index": s.index, "kind": s.stage.kind, "step": step, "epoch": epoch,
                  "loss": loss, "lr": lr, "samples": len(batch.ids), "skipped_samples": len(batch.bad),
                  "tokens_per_s": tokens / (now - mark), "step_time_s": now - started,
                  "wall_time_s": now - mark, **extra}
        mark = now
        if info.main and step % s.stage.log_every_steps == 0:
            metrics.write(record)
        shown = float("nan") if loss is None else loss
        display.update(step, shown, lr, record["tokens_per_s"])
        for callback in callbacks:
            callback(StepInfo(s.name, s.index, step, s.total, shown, None))
        if Interrupt.requested:
            break
    return step


def _batches(s: EncoderStage) -> Iterator[tuple[int, PairBatch]]:
    """(epoch, batch) for ``s.total`` steps; each epoch a seeded permutation, the last partial batch dropped."""
    size, done = s.stage.global_batch, 0
    for epoch in range(math.ceil(s.total / s.per_epoch)):
        s.dataset.set_epoch(epoch)
        generator = torch.Generator().manual_seed(s.stage.seed * 1_000_003 + epoch)
        order = torch.randperm(len(s.dataset), generator=generator)
        count = min(s.per_epoch, s.total - done)
        sampler = [order[i * size:(i + 1) * size].tolist() for i in range(count)]
        for batch in DataLoader(s.dataset, batch_sampler=sampler, collate_fn=s.collator, num_workers=s.workers):
            done += 1
            yield epoch, batch


def _step(
    s: EncoderStage, batch: PairBatch, info: DistInfo, step: int,
) -> tuple[float | None, dict[str, float]]:
    """One optimizer step on ``batch`` (skipped, the scheduler still stepping, with fewer than 2 pairs)."""
    if len(batch.ids) < 2:
        s.scheduler.step()
        return None, {}
    batch = batch.to(info.device)
    with autocast_for(s.precision, info.device):
        loss, extra = s.objective(batch)
    value = float(loss.detach())
    if not math.isfinite(value):
        raise NonFiniteLossError(f"stage {s.name} step {step + 1}: loss is {value} (check the learning rate)")
    loss.backward()
    norm = float(torch.nn.utils.clip_grad_norm_(s.params, s.stage.max_grad_norm or float("inf")))
    if not math.isfinite(norm):
        raise NonFiniteLossError(f"stage {s.name} step {step + 1}: gradient norm is {norm} "
                                 "(check the learning rate)")
    s.optimizer.step()
    s.scheduler.step()
    s.optimizer.zero_grad(set_to_none=True)
    s.objective.after_step()
    return value, {"grad_norm": norm, **extra}
