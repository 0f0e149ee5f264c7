"""plan.py

What ``mmbind data shard`` will write, decided before a byte is written (so that a rerun after an
interruption decides the same and keeps the shards already complete): the samples of the input files in
order, each checked as training would read it (`parse_record`: a malformed record), its id unique among all
inputs (the first kept), its media files present and readable; the samples that fail are left out and
listed with the reason. A kept sample gets the next number (its key in the shards) and its record names its
media by member (``<key>.<data key>.<n>.<ext>``). `cut_shards` splits the samples into shards of at most
``shard_size`` bytes of tar (a sample larger than that is a shard of its own).

Media keys are those of the installed media loaders, the keys given a root, and any key whose ``<key>`` tag
the sample's text holds (`foreign_media`), so a shard carries every medium a later recipe may read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mmbind.data.records import DuplicateIdCheck, foreign_media, parse_record, read_source, sample_id
from mmbind.errors import DataError
from mmbind.registry import default_registry
from mmbind.shards.index_file import sample_key

BLOCK = 512  # tar block: each member takes a header block and its data rounded up to blocks


@dataclass(frozen=True)
class PlannedSample:
    """One sample as it goes into a shard."""

    number: int
    record: dict[str, Any]  # the LLaVA record, its media named by member
    media: tuple[tuple[str, Path], ...]  # (member name, file on disk)
    size: int  # bytes it takes in the tar

    @property
    def key(self) -> str:
        """Its key in the shards."""
        return sample_key(self.number)


def plan_samples(
    inputs: Sequence[str], roots: Mapping[str, str | None]
) -> tuple[list[PlannedSample], list[dict[str, str]]]:
    """The samples of ``inputs`` to write, and the ones left out (``{file, id, reason}``)."""
    keys = sorted({*default_registry().names("loader"), "image", "video", *roots})
    sources = [read_source(path, roots, keys) for path in inputs]
    unique = DuplicateIdCheck(sources)
    kept: list[PlannedSample] = []
    left: list[dict[str, str]] = []
    for file_idx, source in enumerate(sources):
        for sample_idx, raw in enumerate(source.samples):
            try:
                unique.check(file_idx, sample_idx)
                extra = tuple(foreign_media(source, raw))
                record = parse_record(replace(source, media_keys=(*keys, *extra)), sample_idx)
                media = tuple((m, path) for m, files in record.media.items() for path in files)
                for _, path in media:
                    _check_readable(path, record.id)
            except DataError as exc:
                left.append({"file": str(source.path), "id": sample_id(source, sample_idx),
                             "reason": " ".join(str(exc).split())})
                continue
            kept.append(_planned(len(kept), raw, record.media))
    return kept, left


def _check_readable(path: Path, sample: str) -> None:
    if not path.is_file():
        raise DataError(f"sample {sample}: media file not found: {path}")
    if not os.access(path, os.R_OK):
        raise DataError(f"sample {sample}: media file cannot be read: {path}")


def _planned(number: int, raw: dict[str, Any], media: Mapping[str, tuple[Path, ...]]) -> PlannedSample:
    key = sample_key(number)
    record = dict(raw)
    members: list[tuple[str, Path]] = []
    for modality, files in media.items():
        names = [f"{key}.{modality}.{n}{_suffix(path)}" for n, path in enumerate(files)]
        members += zip(names, files)
        record[modality] = names if isinstance(raw[modality], list) else names[0]
    size = _member_size(len(record_bytes(record))) + sum(_member_size(p.stat().st_size) for _, p in members)
    return PlannedSample(number, record, tuple(members), size)


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    return suffix if suffix[1:].isalnum() else ".bin"


def _member_size(size: int) -> int:
    return BLOCK + -(-size // BLOCK) * BLOCK


def record_bytes(record: Mapping[str, Any]) -> bytes:
    """A record as its shard member (and its line of ``samples.jsonl``) holds it."""
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def cut_shards(samples: Sequence[PlannedSample], shard_size: int) -> list[list[PlannedSample]]:
    """``samples`` split in order into shards of at most ``shard_size`` bytes (at least one sample each)."""
    shards: list[list[PlannedSample]] = []
    size = 0
    for sample in samples:
        if not shards or (size + sample.size > shard_size and shards[-1]):
            shards.append([])
            size = 0
        shards[-1].append(sample)
        size += sample.size
    return shards
