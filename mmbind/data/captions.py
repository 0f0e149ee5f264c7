"""captions.py

Media-caption pairs for the encoder pre-training stages (``align``, ``mae``), read from a recipe dataset's
LLaVA-format files: every sample with an item of the stage's modality gives one pair (its first item of that
modality, and the gpt answer of its first round as the caption); samples without one are not pairs (a
stage-1 file mixes images and videos). Media go through the same loading as the conversations and the
encoder's own ``media_transform``; a sample that fails comes back as a `BadSample` and is dropped from its
batch. Like every dataset of `mmbind.data`, preprocessing is seeded per (seed, epoch, index) (`sample_rng`),
so pixels do not depend on the worker count, and (deterministic transforms) can be kept in memory across
epochs with ``cache``; each pair also carries its own seed (`item_seed`) for the objective's randomness
(mae's masks): the same on any world size. Their order is `sampler.EpochOrder` (whole global batches, as
for every kind), their collation `collate.PairCollator`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import Dataset

from mmbind.data.build import stage_dataset
from mmbind.data.dataset import item_seed, sample_rng
from mmbind.data.example import BadSample, Pair, bad_sample
from mmbind.data.media_readers import MediaReader
from mmbind.data.records import DuplicateIdCheck, SourceFile, drop_media, parse_record, sample_id
from mmbind.errors import DataError, ShardError, WriteError
from mmbind.recipe.training_schema import DataSpec
from mmbind.registry import default_registry
from mmbind.shards.source import open_data_file


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
        except (ShardError, WriteError):  # the data cannot be read at all: not one bad item
            raise
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


def stage_sources(data: DataSpec, stage_name: str, dataset: str | None, modality: str) -> list[SourceFile]:
    """The files of the stage's dataset (files with weight 0 left out), read for the pairs of ``modality``
    (other media of a sample, e.g. the image next to a depth map, are not its concern)."""
    spec = stage_dataset(data, stage_name, dataset)
    keys = sorted({modality, *default_registry().names("loader")})
    cache = data.shard_cache_spec()
    return [drop_media(open_data_file(f, keys, (), cache), spec.drop_media) for f in spec.files
            if f.weight > 0]
