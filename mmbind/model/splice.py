"""splice.py

Splices projected media tokens into text embeddings.

``input_ids`` carry ONE placeholder per media item. Each placeholder is replaced by that item's ``L``
projected tokens (``features[modality]``: ``(N, L, D)``, or a list of ``(L_i, D)`` when items differ), padding
is dropped and the rows are re-padded (left or right) to the longest expanded row. Items are consumed in order
of appearance across the batch (row-major). Visual positions get label -100 (never supervised). Vectorised:
one scatter per modality, no Python loop over samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from mmbind.errors import InputError
from mmbind.model.media_items import MediaItems, item_count, item_lengths, unstack
from mmbind.prompting.tokenize import IGNORE_INDEX  # the labels convention: -100 is not supervised


@dataclass
class Spliced:
    """The expanded sequence handed to the LLM."""

    inputs_embeds: torch.Tensor  # (B, S', D)
    attention_mask: torch.Tensor  # (B, S') long, 1 on real positions
    position_ids: torch.Tensor  # (B, S') contiguous from 0 over real positions
    labels: torch.Tensor | None  # (B, S') with -100 on media, padding and masked text


def splice(
    input_ids: torch.Tensor,
    text_embeds: torch.Tensor,
    attention_mask: torch.Tensor,
    features: dict[str, MediaItems],
    placeholder_ids: dict[str, int],
    labels: torch.Tensor | None = None,
    padding_side: Literal["left", "right"] = "right",
) -> Spliced:
    """Replace each placeholder in ``input_ids`` by its item's tokens from ``features[modality]``."""
    batch, seq = input_ids.shape
    device = input_ids.device
    valid = attention_mask.bool()
    lengths = valid.long()
    masks: dict[str, torch.Tensor] = {}
    for modality, token_id in placeholder_ids.items():
        mask = (input_ids == token_id) & valid
        feats = features.get(modality)
        count = int(mask.sum())
        items = 0 if feats is None else item_count(feats)
        if count != items:
            raise InputError(
                f"{modality}: input_ids hold {count} '{modality}' placeholder(s) "
                f"(id {token_id}) but {items} {modality} item(s) were given"
            )
        if count:
            spans = torch.tensor(item_lengths(feats), device=device, dtype=lengths.dtype)
            lengths = lengths.masked_scatter(mask, spans)  # row-major: order of appearance
            masks[modality] = mask
    new_len = lengths.sum(dim=1)
    width = int(new_len.max()) if batch else 0
    shift = (width - new_len) if padding_side == "left" else torch.zeros_like(new_len)
    dest = torch.cumsum(lengths, dim=1) - lengths + shift[:, None]  # first output slot of every token

    dim = text_embeds.shape[-1]
    embeds = text_embeds.new_zeros(batch, width, dim)
    out_labels = None if labels is None else labels.new_full((batch, width), IGNORE_INDEX)
    is_text = valid.clone()
    for mask in masks.values():
        is_text &= ~mask
    rows, cols = is_text.nonzero(as_tuple=True)
    embeds[rows, dest[rows, cols]] = text_embeds[rows, cols]
    if out_labels is not None:
        out_labels[rows, dest[rows, cols]] = labels[rows, cols]  # type: ignore[index]
    for modality, mask in masks.items():
        feats = features[modality]
        flat = (feats.reshape(-1, dim) if isinstance(feats, torch.Tensor)
                else torch.cat(unstack(feats))).to(embeds.dtype)
        rows, cols = mask.nonzero(as_tuple=True)  # row-major: order of appearance across the batch
        spans = lengths[rows, cols]
        starts = torch.cumsum(spans, 0) - spans  # each item's first row in ``flat``
        within = torch.arange(flat.shape[0], device=device) - starts.repeat_interleave(spans)
        slot_rows = rows.repeat_interleave(spans)
        slot_cols = dest[rows, cols].repeat_interleave(spans) + within
        embeds[slot_rows, slot_cols] = flat

    positions = torch.arange(width, device=device)[None, :]
    start = shift[:, None]
    attn = ((positions >= start) & (positions < start + new_len[:, None])).long()
    position_ids = (positions - start).clamp(min=0) * attn
    return Spliced(embeds, attn, position_ids, out_labels)
