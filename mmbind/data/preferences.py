"""preferences.py

Preference pairs for preference training (``kind: dpo``), read from the formats people have:

- LLaVA style: ``{"id", "image" | "video" | <any media key>: path(s), "conversations": [...up to the last
  user turn], "chosen": "answer", "rejected": "answer"}``;
- LLaMA-Factory's ranking layout: ``"conversations"`` + ``"chosen": {"from": "gpt", "value": ...}`` +
  ``"rejected": {...}`` (its ``"images"`` / ``"videos"`` lists read as ``image`` / ``video``).

`PreferenceDataset` is the conversation dataset (`ConversationDataset`: the same templates, tokenising,
media loading, feature cache and per-item seeds) giving each pair as two examples that share the prompt and
the media: the chosen one carries the media items, the rejected one only their placeholders, and only each
answer (and its eos) is supervised. `PreferenceCollator` stacks a micro-batch's chosen examples then its
rejected ones into one `Batch` with the `Collator`, so the model encodes a pair's media once and runs both
answers in one LLM batch. A bad pair (identical or empty answers, a media tag / file mismatch, missing
media, a prompt that does not end with the user's turn, ...) comes back as a `BadSample` naming it, and is
skipped and counted like any bad sample.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from mmbind.data.collate import Batch, Collator
from mmbind.data.dataset import ConversationDataset, sample_rng
from mmbind.data.example import BadSample, Example, bad_sample
from mmbind.data.records import ROLES, SourceFile, parse_record, sample_id
from mmbind.errors import DataError, ShardError, WriteError
from mmbind.prompting.record import Record

PLURAL_MEDIA = {"images": "image", "videos": "video", "audios": "audio"}  # LLaMA-Factory's columns


@dataclass
class PreferenceExample:
    """One tokenised pair: the chosen example carries the media, the rejected one their placeholders."""

    id: str  # sample id
    index: int  # position in the dataset (the precomputed reference's row)
    chosen: Example
    rejected: Example


def parse_preference(source: SourceFile, index: int) -> tuple[Record, Record]:
    """The (chosen, rejected) conversations of pair ``index`` of ``source``; `DataError` naming the pair
    and the problem."""
    raw = source.samples[index]
    sid = sample_id(source, index)
    where = f"{source.path}: sample {sid}"
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected an object, got {type(raw).__name__}")
    chosen, rejected = _answer(raw, "chosen", where), _answer(raw, "rejected", where)
    if chosen.strip() == rejected.strip():
        raise DataError(f"{where}: the chosen and rejected answers are identical")
    turns = raw.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise DataError(f"{where}: 'conversations' must be a non-empty list (the prompt)")
    last = turns[-1]
    if not isinstance(last, dict) or ROLES.get(str(last.get("from", "")).lower()) != "human":
        raise DataError(f"{where}: the prompt ('conversations') must end with the user's turn")
    sample = {k: v for k, v in raw.items() if k not in ("chosen", "rejected")}
    for plural, key in PLURAL_MEDIA.items():
        if plural in sample and key not in sample and key in source.media_keys:
            sample[key] = sample.pop(plural)
    sample["id"] = sid
    sample["conversations"] = [*turns, {"from": "gpt", "value": chosen}]
    record = parse_record(replace(source, samples=[sample]), 0)
    return record, replace(record, turns=(*record.turns[:-1], ("gpt", rejected)))


def _answer(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if isinstance(value, dict):  # the ranking layout: {"from": "gpt", "value": ...}
        if ROLES.get(str(value.get("from", "gpt")).lower()) != "gpt":
            raise DataError(f"{where}: '{key}' must be the assistant's answer (from: gpt)")
        value = value.get("value")
    if not isinstance(value, str):
        raise DataError(f"{where}: '{key}' must be an answer (a string, or {{from: gpt, value: ...}})")
    if not value.strip():
        raise DataError(f"{where}: the {key} answer is empty")
    return value


class PreferenceDataset(ConversationDataset):
    """Preference pairs over several files (index = position in their concatenation)."""

    def __getitem__(self, index: int) -> PreferenceExample | BadSample:  # type: ignore[override]
        source_idx, sample_idx = self.index[index]
        source = self.sources[source_idx]
        try:
            with sample_rng(self.seed, self.epoch, index):
                chosen, rejected = parse_preference(source, sample_idx)
                return PreferenceExample(chosen.id, index, self._example(chosen, last_answer_only=True),
                                         self._example(rejected, last_answer_only=True, media=False))
        except (ShardError, WriteError):  # the data cannot be read at all: not one bad pair
            raise
        except Exception as exc:  # noqa: BLE001 -- one pair never aborts the run: any failure is reported
            return bad_sample(sample_id(source, sample_idx), exc)

    def _record(self, source: SourceFile, sample_idx: int) -> Record:
        """A pair's chosen side: its prompt and media are the pair's."""
        return parse_preference(source, sample_idx)[0]


@dataclass
class PreferenceBatch:
    """A micro-batch of N pairs: ``rows`` holds the N chosen examples then the N rejected ones."""

    rows: Batch  # 2N rows; the media of the first N only (each pair's items once)
    ids: list[str]  # pair ids
    indices: torch.Tensor  # (N,) dataset indices (the precomputed reference's rows)
    bad: list[BadSample] = field(default_factory=list)  # pairs dropped from this batch
    truncated: int = 0  # answers cut to max_length

    @property
    def size(self) -> int:
        """Number of pairs."""
        return len(self.ids)

    def to(self, device: torch.device | str) -> PreferenceBatch:
        rows, indices = self.rows.to(device), self.indices.to(device)
        return PreferenceBatch(rows, self.ids, indices, self.bad, self.truncated)


class PreferenceCollator:
    """Pairs to a `PreferenceBatch` (the `Collator` over chosen then rejected examples)."""

    def __init__(self, pad_id: int) -> None:
        self.collator = Collator(pad_id)

    def __call__(self, items: list[PreferenceExample | BadSample]) -> PreferenceBatch:
        good = [p for p in items if isinstance(p, PreferenceExample)]
        bad = [p for p in items if isinstance(p, BadSample)]
        rows = self.collator([p.chosen for p in good] + [p.rejected for p in good])
        indices = torch.tensor([p.index for p in good], dtype=torch.long)
        return PreferenceBatch(rows, [p.id for p in good], indices, bad, rows.truncated)
