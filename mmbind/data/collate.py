"""collate.py

`Collator`: a list of examples (images, videos and text-only mixed) to one `Batch` shaped exactly for
``MultimodalLM.forward(input_ids, attention_mask, labels, media={...})``: right-padded ``input_ids`` /
``labels`` / ``attention_mask``, and per modality the items stacked in order of appearance across the batch
(row-major; a list of per-item tensors where their shapes differ, e.g. videos of different frame counts).
Items already encoded (feature cache hits) travel as features with their slot in that order.

With ``packing`` the examples are concatenated into ONE row without any padding; the expanded length of
each sample is kept so the step can restart position ids per sample (a block-diagonal causal mask).
Bad samples are dropped from the batch and carried along for the report. `PairCollator` collates the
encoder pre-training stages' media-caption pairs (stacked pixels, right-padded captions).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from mmbind.data.example import BadSample, Example, Pair
from mmbind.model.media_items import MediaItems, stack_items, to_device
from mmbind.prompting.tokenize import IGNORE_INDEX


@dataclass
class MediaBatch:
    """One modality's items of a batch, in order of appearance."""

    count: int  # items in total
    pixels: MediaItems | None = None  # (n_pixels, ...) items to encode (a list where shapes differ)
    pixel_slots: torch.Tensor | None = None  # (n_pixels,) their positions in the order of appearance
    features: MediaItems | None = None  # (n_cached, L, D) cached encoder outputs (a list where L differs)
    feature_slots: torch.Tensor | None = None  # (n_cached,) their positions
    store_keys: list[str | None] = field(default_factory=list)  # per pixel item: cache key to write, or None

    def to(self, device: torch.device | str) -> MediaBatch:
        return MediaBatch(
            self.count, to_device(self.pixels, device), to_device(self.pixel_slots, device),
            to_device(self.features, device), to_device(self.feature_slots, device), self.store_keys,
        )


@dataclass
class Batch:
    """A collated micro-batch."""

    input_ids: torch.Tensor  # (B, S) long (B = 1 when packed)
    attention_mask: torch.Tensor  # (B, S) long, 1 on real tokens
    labels: torch.Tensor  # (B, S) long, -100 where not supervised
    media: dict[str, MediaBatch]  # modality -> items
    ids: list[str]  # sample ids in batch order
    lengths: list[int]  # expanded length of each sample
    packed: bool = False  # one row holding all samples back to back
    truncated: int = 0  # samples cut to max_length
    bad: list[BadSample] = field(default_factory=list)  # samples dropped from this batch

    @property
    def size(self) -> int:
        """Number of samples."""
        return len(self.ids)

    @property
    def supervised_tokens(self) -> int:
        """Positions that contribute to the next-token loss."""
        return int((self.labels[:, 1:] != IGNORE_INDEX).sum())

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            self.input_ids.to(device, non_blocking=True),
            self.attention_mask.to(device, non_blocking=True),
            self.labels.to(device, non_blocking=True),
            {m: b.to(device) for m, b in self.media.items()},
            self.ids, self.lengths, self.packed, self.truncated, self.bad,
        )

    def model_inputs(self) -> dict:
        """Keyword arguments for ``MultimodalLM.forward`` (uncached pixels only)."""
        media = {m: b.pixels for m, b in self.media.items() if b.pixels is not None and b.features is None}
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask, "labels": self.labels,
                "media": media}


class Collator:
    """Pads (or packs) examples into a `Batch`."""

    def __init__(self, pad_id: int, packing: bool = False) -> None:
        self.pad_id = pad_id
        self.packing = packing

    def __call__(self, samples: list[Example | BadSample]) -> Batch:
        good = [s for s in samples if isinstance(s, Example)]
        bad = [s for s in samples if isinstance(s, BadSample)]
        if self.packing and good:
            input_ids = torch.cat([e.input_ids for e in good])[None]
            labels = torch.cat([e.labels for e in good])[None]
            attention = torch.ones_like(input_ids)
        else:
            width = max((len(e.input_ids) for e in good), default=0)
            input_ids = torch.full((len(good), width), self.pad_id, dtype=torch.long)
            labels = torch.full((len(good), width), IGNORE_INDEX, dtype=torch.long)
            attention = torch.zeros((len(good), width), dtype=torch.long)
            for row, e in enumerate(good):
                n = len(e.input_ids)
                input_ids[row, :n], labels[row, :n], attention[row, :n] = e.input_ids, e.labels, 1
        return Batch(
            input_ids, attention, labels, _stack_media(good), [e.id for e in good], [e.length for e in good],
            self.packing, sum(e.truncated for e in good), bad,
        )


@dataclass
class PairBatch:
    """Collated pairs; bad samples dropped and carried for the report."""

    ids: list[str]  # sample ids
    pixels: torch.Tensor  # (N, ...) stacked pixels
    text_ids: torch.Tensor  # (N, S) right-padded caption ids
    text_mask: torch.Tensor  # (N, S) 1 on real tokens
    bad: list[BadSample]  # dropped samples
    seeds: list[int] = dataclasses.field(default_factory=list)  # each pair's seed

    def to(self, device: torch.device) -> PairBatch:
        return PairBatch(self.ids, self.pixels.to(device), self.text_ids.to(device),
                         self.text_mask.to(device), self.bad, self.seeds)


class PairCollator:
    """Media-caption pairs (`mmbind.data.captions`) to a `PairBatch`: stacks pixels and right-pads captions
    with ``pad_id``."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, items: list[Pair | BadSample]) -> PairBatch:
        good = [p for p in items if isinstance(p, Pair)]
        bad = [p for p in items if isinstance(p, BadSample)]
        width = max((len(p.text_ids) for p in good), default=0)
        ids = torch.full((len(good), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(good), width), dtype=torch.long)
        for row, pair in enumerate(good):
            ids[row, : len(pair.text_ids)] = torch.tensor(pair.text_ids, dtype=torch.long)
            mask[row, : len(pair.text_ids)] = 1
        pixels = torch.stack([p.pixels for p in good]) if good else torch.zeros(0)
        return PairBatch([p.id for p in good], pixels, ids, mask, bad, [p.seed for p in good])


def _stack_media(examples: list[Example]) -> dict[str, MediaBatch]:
    by_modality: dict[str, list] = {}
    for e in examples:
        for item in e.media:
            by_modality.setdefault(item.modality, []).append(item)
    out = {}
    for modality, items in by_modality.items():
        pix = [(i, it) for i, it in enumerate(items) if it.features is None]
        feat = [(i, it) for i, it in enumerate(items) if it.features is not None]
        batch = MediaBatch(len(items))
        if pix:
            batch.pixels = stack_items([it.pixels for _, it in pix])
            batch.pixel_slots = torch.tensor([i for i, _ in pix], dtype=torch.long)
            batch.store_keys = [it.cache_key for _, it in pix]
        if feat:
            batch.features = stack_items([it.features for _, it in feat])
            batch.feature_slots = torch.tensor([i for i, _ in feat], dtype=torch.long)
        out[modality] = batch
    return out
