"""caption_data.py

Media-caption pairs for the encoder pre-training stages (``align``, ``mae``), read from a recipe dataset's
LLaVA-format files: every sample with an item of the stage's modality gives one pair (its first item of that
modality, and the gpt answer of its first round as the caption); samples without one are not pairs (a
stage-1 file mixes images and videos). Media go through the same loading as the LM stages and the
encoder's own ``media_transform``; a sample that fails comes back as a `BadSample` and is dropped from its
batch. Preprocessing is seeded per (seed, epoch, index), so pixels do not depend on the worker count, and
(deterministic transforms) can be kept in memory across epochs with ``cache``. Each pair also carries a seed
of its own (seed, epoch, index) for the objective's randomness (mae's masks): the same on any world size.
`PairOrder`: each epoch a seeded permutation of the pairs, the last partial global batch dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset

from mmbind.data.build import stage_dataset
from mmbind.data.dataset import sample_rng
from mmbind.data.example import BadSample, bad_sample
from mmbind.data.media_readers import MediaReader
from mmbind.data.records import DuplicateIdCheck, SourceFile, drop_media, parse_record, read_source, sample_id
from mmbind.errors import DataError
from mmbind.recipe.training_schema import DataSpec
from mmbind.registry import default_registry


@dataclass
class Pair:
    """One media item and its caption's token ids."""

    id: str  # sample id
    pixels: torch.Tensor  # (3, H, W) or (T, 3, H, W)
    text_ids: list[int]  # caption ids: BOS? + words + EOS, at most max_text tokens
    seed: int = 0  # seed of this item's randomness in this epoch (set by the dataset)


def caption_ids(tokenizer: Any, text: str, max_text: int) -> list[int]:
    """Token ids of a caption with the tokenizer's specials, ending in EOS, cut to ``max_text``."""
    ids = list(tokenizer(text)["input_ids"])
    eos = tokenizer.eos_token_id
    if eos is not None:
        ids = ids[: max_text - 1] + [int(eos)]
    return ids[:max_text]


class MediaCaptions(Dataset):
    """Pairs of one modality over several LLaVA-format files."""

    def __init__(
        self, sources: list[SourceFile], modality: str, transform: Callable[[Any], torch.Tensor],
        reader: MediaReader, tokenizer: Any | None, max_text: int, seed: int = 0, cache: bool = False,
    ) -> None:
        self.sources = sources
        self.modality = modality
        self.transform = transform
        self.reader = reader  # reads the modality's files
        self.tokenizer = tokenizer  # None: no captions needed (mae)
        self.max_text = max_text
        self.seed = seed
        self.epoch = 0
        self.cache: dict[int, Pair] | None = {} if cache else None
        self.index = [(s, i) for s, src in enumerate(sources) for i, raw in enumerate(src.samples)
                      if not isinstance(raw, dict) or raw.get(modality)]
        self.unique = DuplicateIdCheck(sources)  # a repeated id is skipped and reported, the first kept

    def __len__(self) -> int:
        return len(self.index)

    def set_epoch(self, epoch: int) -> None:
        """Reseed per-item preprocessing for ``epoch``."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> Pair | BadSample:
        seed = item_seed(self.seed, self.epoch, index)
        if self.cache is not None and index in self.cache:
            return dataclasses.replace(self.cache[index], seed=seed)
        source_idx, sample_idx = self.index[index]
        source = self.sources[source_idx]
        try:
            self.unique.check(source_idx, sample_idx)
            with sample_rng(self.seed, self.epoch, index):
                pair = self._load(source, sample_idx)
        except Exception as exc:  # noqa: BLE001 -- one item never aborts the run: any failure is reported
            return bad_sample(sample_id(source, sample_idx), exc)
        pair.seed = seed
        if self.cache is not None:
            self.cache[index] = pair
        return pair

    def _load(self, source: SourceFile, sample_idx: int) -> Pair:
        record = parse_record(source, sample_idx)
        files = record.files(self.modality)
        if not files:
            raise DataError(f"sample {record.id}: no {self.modality}")
        pixels = self.transform(self.reader.load(files[0]))
        caption = record.turns[1][1]
        ids = [] if self.tokenizer is None else caption_ids(self.tokenizer, caption, self.max_text)
        return Pair(record.id, pixels, ids)


def item_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of item ``index`` in ``epoch`` of a stage seeded with ``seed``."""
    return ((seed * 1_000_003 + epoch) * 1_000_003 + index) % 2**63


class PairOrder:
    """Each epoch a permutation seeded with (seed, epoch); only whole global batches (the rest dropped)."""

    def __init__(self, size: int, global_batch: int, seed: int) -> None:
        self.size = size
        self.global_batch = global_batch
        self.seed = seed

    @property
    def steps_per_epoch(self) -> int:
        return self.size // self.global_batch

    def order(self, epoch: int) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.size, generator=generator)
        return order[: self.steps_per_epoch * self.global_batch].tolist()


def stage_sources(data: DataSpec, stage_name: str, dataset: str | None, modality: str) -> list[SourceFile]:
    """The files of the stage's dataset (files with weight 0 left out), read for the pairs of ``modality``
    (other media of a sample, e.g. the image next to a depth map, are not its concern)."""
    spec = stage_dataset(data, stage_name, dataset)
    keys = sorted({modality, *default_registry().names("loader")})
    return [drop_media(read_source(f.path, f.roots(), keys), spec.drop_media) for f in spec.files
            if f.weight > 0]


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
    """Stacks pixels and right-pads captions with ``pad_id``."""

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

