"""recipe_settings.py

Resuming keeps the recipe's optimizer settings: loading a checkpoint's optimizer and scheduler state brings
back each parameter group's learning rate, weight decay, betas and epsilon as the run STARTED with them,
so a change accepted on resume (``--allow-recipe-change stages.finetune.lr``) would be logged and then
silently ignored. `recipe_settings` takes them before the restore, `reapply_recipe_settings` puts them back
after it (with the schedule's factor at the saved step).
"""

from __future__ import annotations

from typing import Any

import torch

RECIPE_SETTINGS = ("initial_lr", "weight_decay", "betas", "eps")  # per group: what the recipe sets


def recipe_settings(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """Each parameter group's settings from the recipe (learning rate before the schedule, weight decay,
    betas, epsilon), taken before a checkpoint restore overwrites them (`reapply_recipe_settings`)."""
    return [{k: group[k] for k in RECIPE_SETTINGS if k in group} for group in optimizer.param_groups]


def reapply_recipe_settings(
    optimizer: torch.optim.Optimizer, scheduler: Any, settings: list[dict[str, Any]]
) -> None:
    """Put the recipe's ``settings`` back after a checkpoint restore: loading the optimizer's and the
    scheduler's state brings back the settings the run STARTED with (a resumed run whose recipe raised
    ``lr`` would otherwise go on with the old one). The moments of AdamW and the step count stay as saved;
    each group's learning rate is the schedule's factor at the saved step times the recipe's rate."""
    for group, fresh in zip(optimizer.param_groups, settings, strict=True):
        group.update(fresh)
    if not hasattr(scheduler, "base_lrs"):
        return
    scheduler.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
    lambdas = getattr(scheduler, "lr_lambdas", None)
    if lambdas is not None:
        rates = [base * factor(scheduler.last_epoch) for factor, base in zip(lambdas, scheduler.base_lrs)]
        for group, rate in zip(optimizer.param_groups, rates):
            group["lr"] = rate
        scheduler._last_lr = rates  # what get_last_lr() reports
