"""projector.py

`Projector`: maps encoder tokens ``(N, L, D_in)`` into the LLM's embedding space ``(N, L', D_out)``.
``L' < L`` is allowed (token compression): the host asks ``output_tokens(L, layout)`` for the count it plans
sequences with (splicing, packing, ``max_length``, the feature cache, length grouping) and calls
``project(tokens, layout)``, where ``layout`` is the encoder's `TokenLayout` of the item (None when the
encoder declares none). A projector that does not compress implements only ``forward``. What the checkpoint
converters need is declared too (`original_projector`, `load_original_state`; by default a
`ConversionError` saying the projector cannot be converted).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from mmbind.interfaces.capability import not_convertible
from mmbind.interfaces.conversion import OriginalProjector
from mmbind.interfaces.token_layout import TokenLayout


class Projector(nn.Module, ABC):
    """A trainable bridge between an encoder and the LLM."""

    in_dim: int  # width of the encoder tokens
    out_dim: int  # LLM hidden size

    def output_tokens(self, num_tokens: int, layout: TokenLayout | None = None) -> int:
        """Number of tokens produced for ``num_tokens`` input tokens arranged as ``layout`` (identity unless
        compressing)."""
        return num_tokens

    def project(self, tokens: torch.Tensor, layout: TokenLayout | None = None) -> torch.Tensor:
        """What the host calls: ``(N, L, D_in)`` tokens of items arranged as ``layout`` to ``(N, L', D_out)``
        with ``L' = output_tokens(L, layout)``; by default ``forward(tokens)``."""
        return self(tokens)

    @abstractmethod
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Project ``(N, L, D_in)`` to ``(N, L', D_out)``."""

    def original_projector(self) -> OriginalProjector:
        """This projector as LLaVA's ``mm_projector``: its kind, activation and weights under mm_projector's
        names (sharing storage with its parameters), for the checkpoint converters. Default: it cannot be
        converted."""
        raise not_convertible(self, "original_projector", "projector")

    def load_original_state(self, state: dict[str, torch.Tensor], where: str) -> None:
        """Load the weights strictly from ``state`` under mm_projector's names (a stage-1
        ``mm_projector.bin``), errors naming ``where`` and the projector's own parameters. Default: it cannot
        be converted."""
        raise not_convertible(self, "load_original_state", "projector")
