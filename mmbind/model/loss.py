"""loss.py

Next-token cross-entropy over supervised positions (label != -100), computed in fp32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmbind.model.splice import IGNORE_INDEX


def next_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits[:, t]`` predicting ``labels[:, t + 1]``."""
    shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
    shift_labels = labels[:, 1:].reshape(-1)
    return F.cross_entropy(shift_logits, shift_labels, ignore_index=IGNORE_INDEX)
