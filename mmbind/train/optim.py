"""optim.py

Optimizer and learning-rate schedule of a stage, from the ecosystem: ``torch.optim.AdamW`` (fused on
CUDA) and transformers' ``get_scheduler`` (cosine / linear / constant, each with linear warm-up over
``ceil(warmup_ratio * total_steps)`` steps, as transformers' Trainer computes it).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from transformers import get_scheduler

from mmbind.recipe.training_schema import StageSpec


def decay_groups(
    params: list[torch.nn.Parameter], lr: float, weight_decay: float, part: str | None = None
) -> list[dict[str, Any]]:
    """Parameter groups: matrices with ``weight_decay``, biases and norms without (empty groups left out),
    named ``decay`` / ``no_decay`` (prefixed ``part/``)."""
    prefix = f"{part}/" if part else ""
    decay, plain = [p for p in params if p.ndim >= 2], [p for p in params if p.ndim < 2]
    return [
        {"params": subset, "lr": lr, "weight_decay": wd, "name": f"{prefix}{tag}"}
        for subset, wd, tag in ((decay, weight_decay, "decay"), (plain, 0.0, "no_decay"))
        if subset
    ]


def build_optimizer(groups: list[dict[str, Any]], stage: StageSpec) -> torch.optim.Optimizer:
    """AdamW over ``groups`` with the stage's betas and epsilon."""
    params = [p for g in groups for p in g["params"]]
    fused = bool(params) and all(p.is_cuda for p in params)
    return torch.optim.AdamW(
        groups, lr=groups[0]["lr"] if groups else 0.0, betas=stage.adam_betas, eps=stage.adam_eps,
        weight_decay=stage.weight_decay, fused=fused or None,
    )


def build_scheduler(optimizer: torch.optim.Optimizer, stage: StageSpec, total_steps: int) -> Any:
    """The stage's schedule over ``total_steps`` optimizer steps."""
    warmup = math.ceil(stage.warmup_ratio * total_steps)
    return get_scheduler(stage.scheduler, optimizer, num_warmup_steps=warmup, num_training_steps=total_steps)
