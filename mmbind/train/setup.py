"""setup.py

Preparing the model for one stage, whatever its kind: LoRA (if asked), which parts train, parameter dtypes
for the precision mode, device placement, gradient checkpointing, train/eval modes, the kind's loss module
(`TrainForward` by default) wrapped for DDP / FSDP2, and the optimizer and scheduler over per-part
parameter groups. Every kind ends its preparation with `prepare_training` (wrapping, optimizer,
scheduler); the kinds on a `MultimodalLM` (``lm``, ``dpo``, third parties' `ModelObjective` kinds) start
it with `prepare_model` (LoRA, freezing by part, precision, gradient checkpointing), the encoder
pre-training kinds (``align``, ``mae``) with their loss module's own trainable parameters in fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mmbind.errors import RecipeError
from mmbind.recipe.training_schema import StageSpec
from mmbind.train.distributed import DistInfo, fsdp_units, wrap
from mmbind.train.forward import TrainForward
from mmbind.train.lora import apply_lora
from mmbind.train.optim import build_optimizer, build_scheduler, decay_groups
from mmbind.train.parts import is_frozen, set_trainable


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` is bf16 autocast on GPUs, fp32 elsewhere."""
    if precision == "auto":
        return "bf16_mixed" if device.type == "cuda" else "fp32"
    return precision


def autocast_for(precision: str, device: torch.device) -> AbstractContextManager[Any]:
    """The autocast context of a precision mode."""
    if precision == "bf16_mixed":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def accumulation_steps(stage: StageSpec, world: int, where: str) -> int:
    """Micro-batches per optimizer step on each rank."""
    per_step = stage.per_device_batch * world
    if stage.global_batch % per_step:
        raise RecipeError(
            f"{where}: global_batch {stage.global_batch} is not a multiple of per_device_batch "
            f"{stage.per_device_batch} x {world} rank(s)"
        )
    accum = stage.global_batch // per_step
    if stage.grad_accum is not None and stage.grad_accum != accum:
        raise RecipeError(
            f"{where}: grad_accum {stage.grad_accum} disagrees with "
            f"global_batch / (per_device_batch x ranks) = {accum}"
        )
    return accum


@dataclass
class Prepared:
    """The trainable setup of a stage."""

    module: nn.Module  # the (wrapped) loss module
    optimizer: torch.optim.Optimizer  # AdamW over per-part groups
    scheduler: Any  # transformers LR scheduler
    params: list[nn.Parameter]  # trainable parameters (for clipping)
    precision: str  # resolved precision mode
    fsdp: bool  # sharded with FSDP2


def prepare_model(
    model: nn.Module, stage: StageSpec, info: DistInfo, total_steps: int, cache: Any | None,
    loss: Callable[[nn.Module], nn.Module] | None = None,
) -> Prepared:
    """Apply the stage's LoRA, freezing, precision, placement and wrapping; build optimizer and scheduler.
    ``loss(model)`` makes the kind's loss module once the model is ready (it holds the model as ``.model``;
    default: `TrainForward` with the feature ``cache``)."""
    if stage.lora is not None:
        if "llm" not in stage.train:
            raise RecipeError("stages.*.lora: LoRA adapts the LLM, so 'llm' must be in train")
        apply_lora(model, stage.lora)
    parts = set_trainable(model, stage.train, lora=stage.lora is not None)
    precision = resolve_precision(stage.precision, info.device)
    if precision == "bf16":
        model.to(torch.bfloat16)
    elif precision == "fp32":
        model.float()
    else:
        for params in parts.values():
            for p in params:
                p.data = p.data.float()
    model.to(info.device)
    _gradient_checkpointing(model, stage.gradient_checkpointing)
    model.train()
    for encoder in model.encoders.values():
        if is_frozen(encoder):
            encoder.eval()
    names = {id(p): n for n, p in model.named_parameters()}
    part_names = {part: [names[id(p)] for p in params] for part, params in parts.items()}
    loss_module = loss(model) if loss is not None else TrainForward(model, cache)

    def part_groups(module: nn.Module) -> tuple[list[dict[str, Any]], list[nn.Parameter]]:
        by_name = {n.removeprefix("module.").removeprefix("model."): p for n, p in module.named_parameters()}
        groups = [group for part, pnames in part_names.items()
                  for group in decay_groups([by_name[n] for n in pnames], stage.lr_for(part),
                                            stage.weight_decay, part)]
        if not groups:
            raise RecipeError(f"stage trains {stage.train} but those parts have no parameters")
        return groups, [p for g in groups for p in g["params"]]

    return prepare_training(loss_module, stage, info, total_steps, precision, part_groups, fsdp_units(model))


Groups = Callable[[nn.Module], tuple[list[dict[str, Any]], list[nn.Parameter]]]


def prepare_training(
    loss_module: nn.Module, stage: StageSpec, info: DistInfo, total_steps: int, precision: str,
    groups: Groups, units: list[nn.Module] | None = None,
) -> Prepared:
    """The preparation every kind ends with: the loss module wrapped for DDP / FSDP2 (``units``: the FSDP2
    units inside it), then AdamW over ``groups(wrapped)`` -- (the optimizer's parameter groups, the
    trainable parameters in the order gradients are clipped) -- and the stage's scheduler."""
    fsdp = stage.strategy.startswith("fsdp") and torch.distributed.is_initialized()
    module = wrap(loss_module, stage.strategy, info, units)
    param_groups, params = groups(module)
    optimizer = build_optimizer(param_groups, stage)
    scheduler = build_scheduler(optimizer, stage, total_steps)
    return Prepared(module, optimizer, scheduler, params, precision, fsdp)


def _gradient_checkpointing(model: nn.Module, enabled: bool) -> None:
    if enabled:  # the model is rebuilt for every stage, so it starts without checkpointing
        model.llm.enable_gradient_checkpointing()
