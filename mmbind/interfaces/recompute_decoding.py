"""recompute_decoding.py

`RecomputeDecoding`: the `DecodeState` every `LLMBackend` gets by default. It keeps each row's input
embeddings and runs the backend's ``forward`` over the whole sequence at every step: correct for any
backend (it needs nothing but ``forward`` and the embedding table), but each step costs a full pass.
Backends with a KV cache override `LLMBackend.start_decoding` (``hf_causal`` does).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from mmbind.interfaces.decode_state import DecodeState, leading_padding, left_pad, positions


class EmbeddingsLM(Protocol):
    """What recomputing needs of a backend (every `LLMBackend` has it): logits of input embeddings at
    chosen positions, and the token embedding table."""

    def __call__(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None, logits_to_keep: torch.Tensor | None = None,
    ) -> torch.Tensor: ...

    def input_embeddings(self) -> nn.Embedding: ...


class RecomputeDecoding(DecodeState):
    """Decoding by recomputing the whole sequence every step."""

    def __init__(self, llm: EmbeddingsLM, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> None:
        self.llm = llm
        self.embeds = inputs_embeds
        self.mask = attention_mask.long()
        self._compute()

    def _compute(self) -> None:
        last = torch.tensor([self.embeds.shape[1] - 1], device=self.embeds.device)
        logits = self.llm(self.embeds, self.mask, positions(self.mask), logits_to_keep=last)
        self.logits = logits[:, -1].float()

    def advance(self, tokens: torch.Tensor) -> None:
        new = self.llm.input_embeddings()(tokens.to(self.embeds.device))[:, None].to(self.embeds.dtype)
        self.embeds = torch.cat([self.embeds, new], dim=1)
        self.mask = torch.cat([self.mask, self.mask.new_ones((self.mask.shape[0], 1))], dim=1)
        self._compute()

    def keep(self, rows: torch.Tensor) -> None:
        rows = rows.to(self.mask.device)
        self.mask, self.embeds, self.logits = self.mask[rows], self.embeds[rows], self.logits[rows]
        start = leading_padding(self.mask)
        self.mask, self.embeds = self.mask[:, start:], self.embeds[:, start:]

    def extend(self, other: DecodeState) -> None:
        if not isinstance(other, RecomputeDecoding):
            raise TypeError(f"cannot join a {type(other).__name__} to a RecomputeDecoding")
        width = max(self.mask.shape[1], other.mask.shape[1])
        self.embeds = torch.cat([left_pad(self.embeds, width, 1), left_pad(other.embeds, width, 1)])
        self.mask = torch.cat([left_pad(self.mask, width, 1), left_pad(other.mask, width, 1)])
        self.logits = torch.cat([self.logits, other.logits])
