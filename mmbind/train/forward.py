"""forward.py

`TrainForward`: one micro-batch to the SUM of its next-token losses, by `MultimodalLM.forward` itself
(the loop divides by the supervised token count of the whole optimizer step over all ranks, so the loss is
token-weighted and independent of how the step is split into micro-batches and ranks). It is an
``nn.Module`` so DDP / FSDP can wrap it, and adds only what distribution and the feature cache need:
- a trainable part unused by this batch (e.g. the projector on a text-only batch) gets a zero-valued term
  added to the LLM's input embeddings, so every rank's backward touches the same parameters and runs through
  the same layers (DDP errors without it; FSDP2 reduces wrong gradients or hangs without it); a rank without
  samples runs a 1-token forward with nothing supervised;
- feature-cache hits go in as ``features``, and fresh outputs of frozen encoders are rounded to bf16 (what the
  cache stores, so a cold and a warm cache train alike) and stored;
- packed batches (one row, samples back to back) get position ids restarting per sample.
"""

from __future__ import annotations

import torch
from torch import nn

from mmbind.data.collate import Batch
from mmbind.model.media_items import MediaItems
from mmbind.model.multimodal_lm import CachedFeatures, MultimodalLM, OnEncoded
from mmbind.prompting.tokenize import IGNORE_INDEX
from mmbind.train.feature_cache import FeatureCache


class TrainForward(nn.Module):
    """Loss-sum forward of a `MultimodalLM` for training."""

    def __init__(self, model: MultimodalLM, cache: FeatureCache | None = None) -> None:
        super().__init__()
        self.model = model
        self.cache = cache

    def forward(self, batch: Batch) -> torch.Tensor:
        if batch.size == 0:  # this rank ran out of samples: a 1-token forward with nothing supervised
            batch = _empty_batch(batch.input_ids.device)
        media, features = media_inputs(batch)
        positions = None
        if batch.packed:
            device = batch.input_ids.device
            positions = torch.cat([torch.arange(n, device=device) for n in batch.lengths])[None]
        anchor = self._unused_terms(set(batch.media))
        out = self.model(
            batch.input_ids, batch.attention_mask, batch.labels, media=media, features=features,
            position_ids=positions, logits_to_keep="supervised", loss_reduction="sum",
            on_encoded=self.store(batch), embeds_anchor=anchor if anchor.requires_grad else None,
        )
        return out.loss

    def store(self, batch: Batch) -> OnEncoded | None:
        """Rounds fresh frozen-encoder outputs to bf16 and writes them to the cache."""
        cache = self.cache
        if cache is None:
            return None

        def store(modality: str, tokens: torch.Tensor, slots: list[int]) -> torch.Tensor:
            tokens = tokens.to(torch.bfloat16).to(tokens.dtype)
            keys = batch.media[modality].store_keys
            for slot, item_tokens in zip(slots, tokens):
                key = keys[slot]
                if key is not None:
                    cache.store(key, item_tokens)
            return tokens

        return store

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


def media_inputs(batch: Batch) -> tuple[dict[str, MediaItems], dict[str, CachedFeatures]]:
    """``media`` (items to encode) and ``features`` (cache hits) of a batch, for `MultimodalLM.forward`."""
    media = {m: b.pixels for m, b in batch.media.items() if b.pixels is not None}
    features = {m: CachedFeatures(b.features, b.feature_slots) for m, b in batch.media.items()
                if b.features is not None and b.feature_slots is not None}
    return media, features


def _empty_batch(device: torch.device) -> Batch:
    ones = torch.ones((1, 1), dtype=torch.long, device=device)
    return Batch(ones * 0, ones, ones * IGNORE_INDEX, {}, ["<none>"], [1])
