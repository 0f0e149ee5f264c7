"""resampler_block.py

`ResamplerBlock`: one block of the ``resampler`` projector's perceiver — the latent queries attend over an
item's tokens (multi-head cross-attention, pre-LayerNorm on both sides, residual), then a GELU MLP of 4x
the width (pre-LayerNorm, residual). Attention is written with plain Linear layers (``q``, ``k``, ``v``,
``o``) and `torch.nn.functional.scaled_dot_product_attention`, so LoRA and FSDP see ordinary modules.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CrossAttention(nn.Module):
    """``heads``-head attention of queries ``(N, Q, W)`` over keys / values ``(N, L, W)``."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(width, width) for _ in range(4))

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, S, W)`` to ``(N, heads, S, W / heads)``."""
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split(self.q(queries)), self.split(self.k(context)), self.split(self.v(context))
        out = F.scaled_dot_product_attention(q, k, v)  # (N, heads, Q, W / heads)
        return self.o(out.transpose(1, 2).flatten(2))


class ResamplerBlock(nn.Module):
    """Cross-attention of the latents over the item's tokens, then an MLP; both residual."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm_latents = nn.LayerNorm(width)
        self.norm_context = nn.LayerNorm(width)
        self.attn = CrossAttention(width, heads)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, latents: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``(N, Q, W)`` latents updated from ``(N, L, W)`` context tokens."""
        latents = latents + self.attn(self.norm_latents(latents), self.norm_context(context))
        return latents + self.mlp(self.norm_mlp(latents))
