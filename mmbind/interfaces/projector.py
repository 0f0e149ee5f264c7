"""projector.py

`Projector`: maps encoder tokens ``(N, L, D_in)`` into the LLM's embedding space ``(N, L', D_out)``.
``L' < L`` is allowed (token compression).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn


class Projector(nn.Module, ABC):
    """A trainable bridge between an encoder and the LLM."""

    in_dim: int  # width of the encoder tokens
    out_dim: int  # LLM hidden size

    def output_tokens(self, num_tokens: int) -> int:
        """Number of tokens produced for ``num_tokens`` input tokens (identity unless compressing)."""
        return num_tokens

    @abstractmethod
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Project ``(N, L, D_in)`` to ``(N, L', D_out)``."""
