"""outputs.py

`MultimodalOutput`: what `MultimodalLM.forward` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class MultimodalOutput:
    """Logits over the expanded sequence, with the mask and labels that go with them."""

    # (B, S', V) over the sequence with media tokens spliced in (B, K, V) with logits_to_keep
    logits: torch.Tensor
    attention_mask: torch.Tensor  # (B, S') of the expanded sequence
    loss: torch.Tensor | None = None  # next-token loss (mean, or sum with loss_reduction="sum"), given labels
    labels: torch.Tensor | None = None  # (B, S') expanded labels, -100 on media and padding
    num_tokens: torch.Tensor | None = None  # supervised targets in the loss (mean = sum / num_tokens)
