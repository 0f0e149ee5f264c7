"""loss.py

The next-token cross-entropy of mmbind, computed in fp32 over supervised positions (label != -100), summed or
averaged (or per position: preference training's log-probabilities): the one loss function of evaluation,
inference and training.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from mmbind.model.splice import IGNORE_INDEX


def next_token_loss(
    logits: torch.Tensor, labels: torch.Tensor, positions: torch.Tensor | None = None,
    reduction: Literal["mean", "sum", "none"] = "mean",
) -> torch.Tensor:
    """Cross-entropy of the logits at sequence position ``t`` predicting ``labels[:, t + 1]``.

    ``logits`` cover every position (``(B, S, V)``) or, with ``positions``, only those positions
    (``(B, len(positions), V)``, as the LLM's ``logits_to_keep`` returns them). ``reduction="none"``: the
    per-position losses, shaped as the logits' positions (0 where not supervised).
    """
    target = labels[:, 1:]
    if positions is None:
        logits = logits[:, :-1]
    else:
        target = target[:, positions]
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction=reduction)
    return loss.view(target.shape) if reduction == "none" else loss


def supervised_positions(labels: torch.Tensor) -> torch.Tensor:
    """Positions whose logits some row needs: those followed by a supervised label in any row."""
    return (labels[:, 1:] != IGNORE_INDEX).any(dim=0).nonzero().squeeze(1)


def supervised_count(labels: torch.Tensor) -> torch.Tensor:
    """Number of supervised next-token targets (what a summed loss is divided by)."""
    return (labels[:, 1:] != IGNORE_INDEX).sum()
