"""decode_loop.py

`ContinuousBatch`: rows generated together one token at a time, where rows may leave after any step and
new rows may join between steps (continuous batching; `mmbind serve` drives it). Prompts are encoded and
prefilled as ``model.generate`` does them (media spliced in, left padding) and decoded through the LLM
backend's `DecodeState` (`LLMBackend.start_decoding`), so a greedy row's tokens are those of a direct
``model.generate`` of its prompt. Sampled rows draw as transformers' ``generate`` with ``do_sample``:
temperature, then top-p, then one multinomial draw per row from the softmax.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import TemperatureLogitsWarper, TopPLogitsWarper

from mmbind.interfaces.decode_state import DecodeState


class ContinuousBatch:
    """Rows of one model generated step by step; ``temperature`` 0 is greedy."""

    def __init__(self, model: Any, temperature: float = 0.0, top_p: float = 1.0) -> None:
        self.model = model
        self.state: DecodeState | None = None
        self.warpers = []
        if temperature > 0:
            self.warpers.append(TemperatureLogitsWarper(temperature))
            if top_p < 1.0:
                self.warpers.append(TopPLogitsWarper(top_p))

    @property
    def rows(self) -> int:
        """Rows being generated."""
        return 0 if self.state is None else self.state.rows

    @torch.no_grad()
    def join(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
             media: dict[str, torch.Tensor] | None = None) -> None:
        """Prefill new rows (left-padded prompts with one placeholder per media item) after the others."""
        spliced = self.model.prepare_inputs(input_ids, attention_mask, None, media, padding_side="left")
        new = self.model.llm.start_decoding(spliced.inputs_embeds, spliced.attention_mask)
        if self.state is None:
            self.state = new
        else:
            self.state.extend(new)

    @torch.no_grad()
    def next_tokens(self) -> list[int]:
        """Each row's next token, chosen from its logits (argmax, or a draw when sampling)."""
        if self.state is None:
            return []
        scores = self.state.logits
        if not self.warpers:
            return scores.argmax(-1).tolist()
        for warp in self.warpers:
            scores = warp(None, scores)  # type: ignore[arg-type]
        return torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1).tolist()

    @torch.no_grad()
    def advance(self, tokens: list[int], keep: list[int]) -> None:
        """Go on with rows ``keep`` (indices, in order; the others leave), feeding each its token
        ``tokens[row]``."""
        if self.state is None:
            return
        if not keep:
            self.state = None
            return
        device = self.state.logits.device
        if len(keep) < self.state.rows:
            self.state.keep(torch.tensor(keep, dtype=torch.long, device=device))
        self.state.advance(torch.tensor([tokens[i] for i in keep], dtype=torch.long, device=device))
