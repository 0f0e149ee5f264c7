"""llm.py

`LLMBackend`: a causal language model that takes input embeddings.

The host splices projected media tokens into the text embeddings and calls the backend with
``inputs_embeds``; the backend exposes its embedding table, tokenizer and hidden size, and generates with
a KV cache.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import torch
from torch import nn


class LLMBackend(nn.Module, ABC):
    """A language model driven by ``inputs_embeds``."""

    tokenizer: Any | None  # a transformers tokenizer, or None for tokenizer-less tiny models

    @property
    @abstractmethod
    def hidden_size(self) -> int:
        """Width of the input embeddings."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of rows of the input embedding table."""

    @abstractmethod
    def input_embeddings(self) -> nn.Embedding:
        """The token embedding table."""

    @abstractmethod
    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        logits_to_keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return logits ``(B, S, V)`` for the given embeddings.

        ``logits_to_keep``: 1-D indices of the sequence positions whose logits are wanted (training
        computes them only where a label is supervised); the result is then ``(B, len(indices), V)``.
        ``attention_mask`` None with restarting ``position_ids`` means packed sequences.
        """

    @abstractmethod
    def generate(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, **generate_kwargs: Any
    ) -> torch.Tensor:
        """Generate from left-padded embeddings with a KV cache; return only the new token ids."""

    @abstractmethod
    def add_tokens(self, tokens: list[str]) -> list[int]:
        """Ensure ``tokens`` exist as special tokens of the tokenizer; return their ids.

        Placeholder ids may lie past the embedding table: they are replaced before the lookup.
        """

    def save_artifacts(self, directory: Path) -> None:
        """Write what is needed to rebuild this backend without its original files (config, tokenizer)."""
