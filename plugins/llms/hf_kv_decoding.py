"""hf_kv_decoding.py

`KVCacheDecoding`: step-by-step decoding of the ``hf_causal`` backend with transformers' ``DynamicCache``,
for the server's continuous batching. It calls the model as ``generate`` does (prefill with
``logits_to_keep=1``, position ids counted over real tokens, no attention mask when nothing is padded),
so a row's greedy tokens are those of ``generate``. Finished rows are cut out of the cache; joining rows
are left-padded (cache and mask) to the batch's length, and columns that became padding in every row are
dropped.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from mmbind.interfaces.decode_state import DecodeState, leading_padding, left_pad, positions


def plain_dynamic_cache(model: Any) -> bool:
    """Whether ``model``'s cache is made of plain (full-attention) dynamic layers: those can be cut
    and padded along the sequence (sliding-window layers cannot)."""
    try:
        cache = DynamicCache(config=model.config)
        return all(type(layer) is DynamicLayer for layer in cache.layers)
    except Exception:  # an unusual config or an older transformers: the generic decoding handles it
        return False


def _cache_argument(model: Any) -> str:
    """The name ``forward`` takes the cache by (``cache``; ``past_key_values`` before transformers 5.x)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class KVCacheDecoding(DecodeState):
    """Decoding with a KV cache whose rows can leave and join."""

    def __init__(self, model: Any, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> None:
        self.model = model
        self.embed = model.get_input_embeddings()
        self.mask = attention_mask.long()
        self.cache = DynamicCache(config=model.config)  # filled in place by every forward
        self.cache_argument = _cache_argument(model)
        self._forward(inputs_embeds, positions(self.mask))

    def _forward(self, embeds: torch.Tensor, position_ids: torch.Tensor) -> None:
        """Run the new positions through the model (the cache grows); logits of the last one."""
        mask = None if bool(self.mask.all()) else self.mask  # as generate: no mask when nothing is padded
        out = self.model(inputs_embeds=embeds, attention_mask=mask, position_ids=position_ids, use_cache=True,
                         logits_to_keep=1, **{self.cache_argument: self.cache})
        self.logits = out.logits[:, -1].float()

    def advance(self, tokens: torch.Tensor) -> None:
        tokens = tokens.to(self.mask.device)
        self.mask = torch.cat([self.mask, self.mask.new_ones((self.mask.shape[0], 1))], dim=1)
        self._forward(self.embed(tokens)[:, None], self.mask.sum(-1, keepdim=True) - 1)

    def keep(self, rows: torch.Tensor) -> None:
        rows = rows.to(self.mask.device)
        self.mask, self.logits = self.mask[rows], self.logits[rows]
        start = leading_padding(self.mask)
        self.mask = self.mask[:, start:]
        for layer in self.cache.layers:
            layer.keys = layer.keys[rows, :, start:]
            layer.values = layer.values[rows, :, start:]

    def extend(self, other: DecodeState) -> None:
        if not isinstance(other, KVCacheDecoding):
            raise TypeError(f"cannot join a {type(other).__name__} to a KVCacheDecoding")
        width = max(self.mask.shape[1], other.mask.shape[1])
        self.mask = torch.cat([left_pad(self.mask, width, 1), left_pad(other.mask, width, 1)])
        self.logits = torch.cat([self.logits, other.logits])
        for mine, theirs in zip(self.cache.layers, other.cache.layers):
            mine.keys = torch.cat([left_pad(mine.keys, width, 2), left_pad(theirs.keys, width, 2)])
            mine.values = torch.cat([left_pad(mine.values, width, 2), left_pad(theirs.values, width, 2)])
