"""decode_state.py

`DecodeState`: rows of a batch being generated one token at a time, and what the LLM backend keeps between
steps (a KV cache). The server's continuous batching (`mmbind.inference.decode_loop.ContinuousBatch`) drives
it: after each step finished rows leave (`keep`) and newly prefilled rows join (`extend`), so a batch
need not run as long as its longest answer.

A state is made by `LLMBackend.start_decoding` from left-padded prompt embeddings. ``logits`` always hold
each row's next-token logits; `advance` feeds one chosen token per row. Rows are left-padded: a row's
positions count its real tokens only, as transformers' ``generate`` counts them, so a row's tokens do not
depend on which other rows share its batch (up to floating-point rounding).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class DecodeState(ABC):
    """Rows generated together, with their next-token logits."""

    logits: torch.Tensor  # (rows, vocab) the next-token logits of every row, float32

    @property
    def rows(self) -> int:
        """How many rows are being generated."""
        return int(self.logits.shape[0])

    @abstractmethod
    def advance(self, tokens: torch.Tensor) -> None:
        """Append ``tokens`` (``(rows,)`` ids, one per row) and compute the next ``logits``."""

    @abstractmethod
    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (1-D indices, in that order); the others' cached state is freed."""

    @abstractmethod
    def extend(self, other: DecodeState) -> None:
        """Append the rows of ``other`` (made by the same backend's `start_decoding`) after this one's."""


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids of left-padded rows as ``generate`` makes them: real tokens count from 0, padding 0."""
    return (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)


def left_pad(tensor: torch.Tensor, width: int, dim: int) -> torch.Tensor:
    """``tensor`` with zeros prepended along ``dim`` up to ``width``."""
    missing = width - tensor.shape[dim]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


def leading_padding(mask: torch.Tensor) -> int:
    """How many leading columns of ``mask`` are padding in every row (they can be dropped)."""
    used = mask.any(dim=0).nonzero()
    return int(used[0]) if len(used) else int(mask.shape[1])
