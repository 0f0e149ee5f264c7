"""forward.py

`TrainForward`: one micro-batch to the SUM of its next-token losses (the loop divides by the supervised
token count of the whole optimizer step over all ranks, so the loss is token-weighted and independent of
how the step is split into micro-batches and ranks). It is an ``nn.Module`` so DDP / FSDP can wrap it.

What it does beyond ``MultimodalLM.forward``, all through the model's public pieces (encoders,
``projector_for``, the LLM's embeddings, ``splice``):
- frozen encoders run under ``no_grad``; their outputs are merged with feature-cache hits and misses are
  written to the cache;
- packed batches (one row, samples back to back) get position ids restarting per sample and no 2-D mask,
  so the LLM builds a block-diagonal causal mask (varlen with flash attention): no padding is computed;
- logits are computed only where a label is supervised (the backend's ``logits_to_keep``), not over
  thousands of visual positions;
- a trainable part unused by this batch (e.g. the projector on a text-only batch) gets a zero-valued
  term added to the LLM's input embeddings, so every rank's backward touches the same parameters and
  runs through the same layers (DDP errors without it; FSDP2 reduces wrong gradients or hangs without
  it); a rank without samples runs a 1-token forward with nothing supervised.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mmbind.data.collate import Batch
from mmbind.model.splice import splice
from mmbind.prompting.tokenize import IGNORE_INDEX
from mmbind.train.parts import is_frozen


class TrainForward(nn.Module):
    """Loss-sum forward of a `MultimodalLM` for training."""

    def __init__(self, model: nn.Module, cache: Any | None = None) -> None:
        super().__init__()
        self.model = model
        self.cache = cache

    def forward(self, batch: Batch) -> torch.Tensor:
        model = self.model
        if batch.size == 0:  # this rank ran out of samples: a 1-token forward with nothing supervised
            batch = _empty_batch(batch.input_ids.device)
        features = self._encode(batch)
        embed = model.llm.input_embeddings()
        text = embed(batch.input_ids.clamp(0, embed.num_embeddings - 1))
        spliced = splice(
            batch.input_ids, text, batch.attention_mask, features, dict(model.config.placeholder_ids),
            batch.labels, "right",
        )
        if batch.packed:
            device = batch.input_ids.device
            positions = torch.cat([torch.arange(n, device=device) for n in batch.lengths])[None]
            mask = None
        else:
            positions, mask = spliced.position_ids, spliced.attention_mask
        embeds = spliced.inputs_embeds
        anchor = self._unused_terms(set(features))
        if anchor.requires_grad:  # in the LLM's input, so every rank back-propagates through the same layers
            embeds = embeds + anchor.to(embeds.dtype)
        return supervised_loss_sum(model.llm, embeds, mask, positions, spliced.labels)

    def _encode(self, batch: Batch) -> dict[str, torch.Tensor]:
        out = {}
        for modality, items in batch.media.items():
            encoder = self.model.encoders[modality]
            frozen = is_frozen(encoder)
            tokens = None
            if items.pixels is not None:
                with torch.no_grad() if frozen else contextlib.nullcontext():
                    tokens = encoder(items.pixels)
                if self.cache is not None and frozen:
                    # the cache stores bf16: round fresh features too, so a cold and a warm cache train alike
                    tokens = tokens.to(torch.bfloat16).to(tokens.dtype)
                    for key, item_tokens in zip(items.store_keys, tokens):
                        if key is not None:
                            self.cache.store(key, item_tokens)
            if items.features is not None:
                cached = items.features.to(_dtype_for(self.model.projector_for(modality), tokens))
                merged = cached.new_empty((items.count, *cached.shape[1:]))
                merged[items.feature_slots] = cached
                if tokens is not None:
                    merged[items.pixel_slots] = tokens.to(merged.dtype)
                tokens = merged
            out[modality] = self.model.projector_for(modality)(tokens)
        return out

    def _unused_terms(self, used: set[str]) -> torch.Tensor:
        """0 x (sum of every trainable parameter of a part this batch did not use)."""
        model = self.model
        params: dict[int, nn.Parameter] = {}
        for modality, encoder in model.encoders.items():
            if modality not in used:
                params.update((id(p), p) for p in encoder.parameters() if p.requires_grad)
                projector = model.projector_for(modality)
                if not any(model.projector_for(m) is projector for m in used):
                    params.update((id(p), p) for p in projector.parameters() if p.requires_grad)
        zero = torch.zeros((), device=model.llm.input_embeddings().weight.device)
        if not params:
            return zero
        return zero + 0.0 * torch.stack([p.sum().float() for p in params.values()]).sum()


def _empty_batch(device: torch.device) -> Batch:
    ones = torch.ones((1, 1), dtype=torch.long, device=device)
    return Batch(ones * 0, ones, ones * IGNORE_INDEX, {}, ["<none>"], [1])


def _dtype_for(projector: nn.Module, tokens: torch.Tensor | None) -> torch.dtype:
    if tokens is not None:
        return tokens.dtype
    param = next(projector.parameters(), None)
    return param.dtype if param is not None else torch.float32


def supervised_loss_sum(
    llm: nn.Module, embeds: torch.Tensor, mask: torch.Tensor | None, positions: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Sum of next-token cross-entropies over supervised positions."""
    target = labels[:, 1:]
    keep = (target != IGNORE_INDEX).any(dim=0).nonzero().squeeze(1)  # columns with any supervised label
    logits = llm(embeds, mask, positions, logits_to_keep=keep)
    picked = target[:, keep]
    return F.cross_entropy(logits.flatten(0, 1).float(), picked.reshape(-1), ignore_index=IGNORE_INDEX,
                           reduction="sum")
