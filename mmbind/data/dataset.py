"""dataset.py

`ConversationDataset`: the samples of several LLaVA-format files (one flat index over all of them),
rendered with a template, tokenised with exact masks, its placeholder ids counted against its media files,
truncated after media expansion, with media read and preprocessed by each encoder's transform (or taken
from the frozen-feature cache). A sample that fails in any way (an id an earlier sample of the dataset
has, malformed conversation, text that is not valid Unicode, a literal media tag in an answer, missing or
corrupt media, tokenisation mismatch, too long, or any exception a tokenizer or decoder raises) comes back
as a `BadSample` naming it and the reason, so the run can skip and count it (a shard that cannot be
read, or a full shard cache, stops the run instead: `ShardError`, `WriteError`). Randomness in
preprocessing is seeded per (seed, epoch, index), so the data are identical whatever the worker count and
after a resume.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.utils.data import Dataset

from mmbind.data.example import BadSample, Example, MediaItem, MediaSpec, bad_sample
from mmbind.data.records import DuplicateIdCheck, SourceFile, parse_record, sample_id
from mmbind.errors import DataError, MediaError, ShardError, WriteError
from mmbind.prompting.record import Record
from mmbind.prompting.templates import Segment, render
from mmbind.prompting.tokenize import ConversationTokenizer, check_placeholders, truncate


@contextlib.contextmanager
def sample_rng(seed: int, epoch: int, index: int) -> Iterator[None]:
    """torch's global CPU RNG seeded for one sample of one epoch (random transforms repeat on resume and do
    not depend on worker count), restored afterwards. Only the CPU generator, which preprocessing uses:
    ``torch.manual_seed`` would also reseed every GPU's, and where CUDA is not started it records a stack
    trace for that each time (half a millisecond per sample, half a minute of a study run)."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(hash((seed, epoch, index)) & 0x7FFFFFFF)
        yield


def last_answer(segments: list[Segment]) -> list[Segment]:
    """``segments`` with only the trailing supervised run (the last answer and its eos) supervised."""
    end = len(segments)
    start = end
    while start > 0 and segments[start - 1].supervised:
        start -= 1
    return [seg if i >= start or not seg.supervised else dataclasses.replace(seg, supervised=False)
            for i, seg in enumerate(segments)]


def item_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of item ``index`` in ``epoch`` of a stage seeded with ``seed``: for the randomness of a
    stage's objective on that item (mae's masks), the same on any world size."""
    return ((seed * 1_000_003 + epoch) * 1_000_003 + index) % 2**63



class FeatureLookup(Protocol):
    """What the dataset needs from a feature cache."""

    def key(self, path: Path, identity: str) -> str: ...

    def load(self, key: str) -> torch.Tensor | None: ...

    def prime(self, paths: Iterable[Path]) -> None: ...


class ConversationDataset(Dataset):
    """Map-style dataset over the samples of ``sources`` (index = position in the concatenation)."""

    def __init__(
        self,
        sources: list[SourceFile],
        template: str,
        tokenizer: ConversationTokenizer,
        media: dict[str, MediaSpec],
        max_length: int,
        max_images: int = 16,
        cache: FeatureLookup | None = None,
        seed: int = 0,
    ) -> None:
        self.sources = sources
        self.template = template
        self.tokenizer = tokenizer
        self.media = media
        self.max_length = max_length
        self.max_images = max_images
        self.cache = cache
        self.seed = seed
        self.epoch = 0
        self.index = [(s, i) for s, source in enumerate(sources) for i in range(len(source.samples))]
        self.unique = DuplicateIdCheck(sources)  # a repeated id is skipped and reported, the first kept

    def __len__(self) -> int:
        return len(self.index)

    def set_epoch(self, epoch: int) -> None:
        """Reseed per-sample randomness for ``epoch`` (call before creating the epoch's iterator)."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> Example | BadSample:
        source_idx, sample_idx = self.index[index]
        source = self.sources[source_idx]
        try:
            self.unique.check(source_idx, sample_idx)
            with sample_rng(self.seed, self.epoch, index):
                return self._load(source, sample_idx)
        except (ShardError, WriteError):  # the data cannot be read at all: not one bad sample
            raise
        except Exception as exc:  # noqa: BLE001 -- one sample never aborts the run: any failure is reported
            return bad_sample(sample_id(source, sample_idx), exc)

    def _load(self, source: SourceFile, sample_idx: int) -> Example:
        return self._example(parse_record(source, sample_idx))

    def _example(self, record: Record, last_answer_only: bool = False, media: bool = True) -> Example:
        """``record`` rendered with the template, tokenised, checked against its media files and truncated;
        its media items read (``media=False``: the placeholders only, the items read with another example).
        ``last_answer_only``: only the last answer (and its eos) supervised (preference pairs)."""
        for modality, files in record.media.items():
            if len(files) > self.max_images:
                raise DataError(f"sample {record.id}: {len(files)} {modality} files, more than max_images "
                                f"{self.max_images}")
        segments = render(record, self.template, tuple(self.media))
        if last_answer_only:
            segments = last_answer(segments)
        tokens = self.tokenizer.encode(segments, record.id)
        check_placeholders(tokens.input_ids, self.tokenizer.placeholder_ids,
                           {m: len(record.files(m)) for m in self.media}, record.id)
        files = {m: iter(record.files(m)) for m in self.media}
        paths = [(m, next(files[m])) for m in tokens.media]
        tokens = truncate(tokens, [self.media[m].tokens_of(p) for m, p in paths], self.max_length, record.id)
        if not media and len(tokens.media) < len(paths):
            raise DataError(f"sample {record.id}: truncation to max_length {self.max_length} cuts its media")
        items = [self._item(m, path) for m, path in paths[:len(tokens.media)]] if media else []
        return Example(
            record.id,
            torch.tensor(tokens.input_ids, dtype=torch.long),
            torch.tensor(tokens.labels, dtype=torch.long),
            items,
            tokens.expanded_length,
            tokens.truncated,
        )

    def _item(self, modality: str, path: Path) -> MediaItem:
        spec = self.media[modality]
        key = None
        if self.cache is not None and spec.cache_identity is not None:
            if not path.is_file():
                raise MediaError(f"{path}: {modality} file not found")
            key = self.cache.key(path, spec.cache_identity)
            features = self.cache.load(key)
            if features is not None:
                return MediaItem(modality, features=features)
        pixels = spec.transform(spec.reader.load(path))
        return MediaItem(modality, pixels=pixels, cache_key=key)

    def _record(self, source: SourceFile, sample_idx: int) -> Record:
        """The parsed record of a sample (its media keys are what `cached_media` reads)."""
        return parse_record(source, sample_idx)

    def cached_media(self) -> list[Path]:
        """The files of every sample whose modality's features are cached (unparsable samples and shard
        datasets, whose media are fetched only when read, left out)."""
        cached = [m for m, spec in self.media.items() if spec.cache_identity is not None]
        paths: list[Path] = []
        for source_idx, sample_idx in self.index:
            if self.sources[source_idx].members is not None:  # shard media: hashed where first read
                continue
            try:
                record = self._record(self.sources[source_idx], sample_idx)
            except DataError:
                continue
            for modality in cached:
                paths += record.files(modality)
        return paths

    def approx_length(self, index: int) -> tuple[str, int]:
        """(modality group, approximate expanded length) without reading media, for length grouping: the
        group is the sample's modalities (``"image"``, ``"depth+image"``, ...) or ``"text"``; videos count
        their most frames where the count varies by item."""
        source_idx, sample_idx = self.index[index]
        raw = self.sources[source_idx].samples[sample_idx]
        if not isinstance(raw, dict):
            return "text", 1
        words = sum(
            len(str(t.get("value", "")).split())
            for t in raw.get("conversations") or []
            if isinstance(t, dict)
        )
        present, media_tokens = [], 0
        for modality, spec in self.media.items():
            value: Any = raw.get(modality)
            if value:
                count = len(value) if isinstance(value, list) else 1
                media_tokens += count * spec.tokens
                present.append(modality)
        return "+".join(sorted(present)) or "text", words + media_tokens

