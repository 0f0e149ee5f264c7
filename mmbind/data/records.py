"""records.py

LLaVA-format dataset files and their samples. A file is a JSON (or JSONL) list of
``{"id", "<key>": path | [paths], ..., "conversations": [{"from", "value"}, ...]}`` where each ``<key>`` is
a modality the recipe's encoders serve (``image``, ``video``, ``depth``, ...; `SourceFile.media_keys`), its
files in the order of the ``<key>`` tags of the text. Files are read eagerly (an unreadable file is a
`DataError` that stops the run); each sample is validated lazily by `parse_record`, so one malformed sample
is skipped and counted instead of killing the run. A sample naming media that no encoder serves
(`SourceFile.foreign_keys`: a key some installed loader reads, or whose ``<key>`` tag is in its text) is
such a sample; `foreign_media` counts them before a run starts. Sample ids are unique within a dataset
(all its files): a sample repeating an earlier one's id is skipped and reported like any bad sample, the
first one kept (`duplicate_ids`). A shard dataset (`mmbind.shards`) is a `SourceFile` too: its records
come from the shards' index folder and its media are shard members, made local files on access
(`SourceFile.members`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from mmbind.errors import DataError
from mmbind.json_file import read_json, read_json_lines
from mmbind.prompting.record import Record
from mmbind.prompting.text_guard import check_text

ROLES = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt"}
NOT_MEDIA = ("id", "conversations")  # sample keys that never name media


class MemberFiles(Protocol):
    """Where a shard dataset's media are: shard members named by the records, as local files."""

    def local(self, names: tuple[Path, ...], where: str) -> tuple[Path, ...]:
        """The local files of the members ``names`` (their shards fetched when needed)."""
        ...


@dataclass(frozen=True)
class SourceFile:
    """A dataset file's raw samples, which of their keys are media, and the media roots."""

    path: Path  # the JSON file
    samples: list[Any]  # raw JSON entries, validated on access
    roots: dict[str, Path]  # data key -> prefix of its relative paths (missing: the file's folder)
    media_keys: tuple[str, ...] = ()  # keys read as media (the recipe's encoders)
    foreign_keys: frozenset[str] = frozenset()  # media keys no encoder serves (installed loaders' keys)
    members: MemberFiles | None = None  # shards: the media are shard members, fetched on access

    def root(self, modality: str) -> Path:
        """Prefix of relative paths of ``modality``."""
        return self.roots.get(modality, self.path.parent)


def read_source(
    path: str, roots: Mapping[str, str | None] | None = None, media_keys: Sequence[str] = (),
    foreign_keys: Collection[str] = (),
) -> SourceFile:
    """Read one JSON (or JSONL) dataset file whose ``media_keys`` name media (``roots``: per key, the
    prefix of relative paths; ``foreign_keys``: keys naming media that no encoder serves)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: dataset file not found")
    samples = read_json_lines(file, DataError) if file.suffix == ".jsonl" else read_json(file, DataError)
    if not isinstance(samples, list):
        raise DataError(f"{file}: expected a JSON list of samples, got {type(samples).__name__}")
    prefixes = {key: Path(root) for key, root in (roots or {}).items() if root}
    return SourceFile(file, samples, prefixes, tuple(media_keys),
                      frozenset(foreign_keys) - set(media_keys))


def keep_modalities(source: SourceFile, modalities: list[str] | None) -> SourceFile:
    """``source`` without the samples that have media of a modality outside ``modalities`` (None: all kept).
    Text-only samples, and malformed ones (so they are still reported), are kept."""
    if modalities is None:
        return source
    allowed = set(modalities)

    def keep(raw: Any) -> bool:
        return not isinstance(raw, dict) or all(
            raw.get(m) is None or m in allowed for m in source.media_keys
        )

    return replace(source, samples=[raw for raw in source.samples if keep(raw)])


def drop_media(source: SourceFile, keys: list[str]) -> SourceFile:
    """``source`` with the data ``keys`` removed from every sample, their ``<key>`` tags (and the newline
    after each) removed from its text: the same conversations without those media."""
    if not keys:
        return source
    tags = re.compile("|".join(re.escape(f"<{k}>") + r"\n?" for k in keys))

    def strip(raw: Any) -> Any:
        if not isinstance(raw, dict) or not any(k in raw for k in keys):
            return raw
        out = {k: v for k, v in raw.items() if k not in keys}
        turns = raw.get("conversations")
        if isinstance(turns, list):
            out["conversations"] = [_untagged(t, tags) for t in turns]
        return out

    return replace(source, samples=[strip(raw) for raw in source.samples])


def _untagged(turn: Any, tags: re.Pattern[str]) -> Any:
    if isinstance(turn, dict) and isinstance(turn.get("value"), str):
        return {**turn, "value": tags.sub("", turn["value"])}
    return turn


def sample_id(source: SourceFile, index: int) -> str:
    """The sample's id, or FILE#INDEX when missing (used in reports even for malformed samples)."""
    raw = source.samples[index]
    if isinstance(raw, dict) and isinstance(raw.get("id"), (str, int)):
        return str(raw["id"])
    return f"{source.path.name}#{index}"


def duplicate_ids(sources: Sequence[SourceFile]) -> dict[tuple[int, int], str]:
    """The samples of ``sources`` (one dataset's files, in order) whose id an earlier sample already has:
    ``(file index, sample index) -> where that first sample is (FILE#INDEX)``. The first keeps the id;
    each later one is skipped and reported (`DuplicateIdCheck`). Samples without an id are never
    duplicates (they are reported as FILE#INDEX)."""
    first: dict[str, str] = {}
    duplicates: dict[tuple[int, int], str] = {}
    for file_idx, source in enumerate(sources):
        for sample_idx, raw in enumerate(source.samples):
            if not isinstance(raw, dict) or not isinstance(raw.get("id"), (str, int)):
                continue
            key = str(raw["id"])
            if key in first:
                duplicates[file_idx, sample_idx] = first[key]
            else:
                first[key] = f"{source.path.name}#{sample_idx}"
    return duplicates


class DuplicateIdCheck:
    """Refuses the samples of a dataset whose id an earlier sample has (`duplicate_ids`), with a
    `DataError` the dataset turns into a skipped, reported sample (or a stopped run with
    ``on_bad_sample: fail``)."""

    def __init__(self, sources: Sequence[SourceFile]) -> None:
        self.sources = sources
        self.duplicates = duplicate_ids(sources)

    def check(self, file_idx: int, sample_idx: int) -> None:
        """`DataError` when the sample at ``(file_idx, sample_idx)`` repeats an earlier sample's id."""
        first = self.duplicates.get((file_idx, sample_idx))
        if first is not None:
            where = f"{self.sources[file_idx].path.name}#{sample_idx}"
            raise DataError(f"sample {sample_id(self.sources[file_idx], sample_idx)}: duplicate id ({where}; "
                            f"the first sample with this id, {first}, is kept)")


def foreign_media(source: SourceFile, raw: Any) -> list[str]:
    """The keys of sample ``raw`` naming media that no encoder serves: a key in ``source.foreign_keys``,
    or one whose ``<key>`` tag appears in the conversation, with a path or a list of paths as value."""
    if not isinstance(raw, dict):
        return []
    text: str | None = None
    found = []
    for key, value in raw.items():
        if key in NOT_MEDIA or key in source.media_keys or not _path_like(value):
            continue
        if key not in source.foreign_keys:
            if text is None:
                turns = raw.get("conversations")
                text = " ".join(str(t.get("value", "")) for t in turns if isinstance(t, dict)) \
                    if isinstance(turns, list) else ""
            if f"<{key}>" not in text:
                continue
        found.append(key)
    return found


def parse_record(source: SourceFile, index: int) -> Record:
    """Validate sample ``index`` of ``source``; a `DataError` names the sample and the problem."""
    raw = source.samples[index]
    sid = sample_id(source, index)
    where = f"{source.path}: sample {sid}"
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected an object, got {type(raw).__name__}")
    foreign = foreign_media(source, raw)
    if foreign:
        named = ", ".join(f"{k!r} ({_shown(raw[k])})" for k in foreign)
        raise DataError(f"{where}: data key {named} is served by no encoder of the recipe "
                        f"(encoders: {', '.join(source.media_keys) or 'none'})")
    media = {}
    for key in [k for k in raw if k in source.media_keys]:  # in the sample's order
        files = _paths(raw.get(key), source.root(key), f"{where}: {key}")
        if files and source.members is not None:
            files = source.members.local(files, f"{where}: {key}")
        if files:
            media[key] = files
    return Record(sid, media, _turns(raw.get("conversations"), where))


def _path_like(value: Any) -> bool:
    return (isinstance(value, str) and bool(value)) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value))


def _shown(value: Any) -> str:
    items = value if isinstance(value, list) else [value]
    return ", ".join(items[:3]) + (f", ... ({len(items)} files)" if len(items) > 3 else "")


def _paths(value: Any, root: Path, where: str) -> tuple[Path, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v for v in items):
        raise DataError(f"{where}: expected a path or a list of paths, got {value!r}")
    return tuple(Path(v) if Path(v).is_absolute() else root / v for v in items)


def _turns(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: 'conversations' must be a non-empty list")
    turns = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or not isinstance(turn.get("value"), str):
            raise DataError(f"{where}: conversations[{i}] needs a string 'value'")
        check_text(turn["value"], f"{where}: conversations[{i}]", DataError)
        role = ROLES.get(str(turn.get("from", "")).lower())
        if role is None:
            raise DataError(
                f"{where}: conversations[{i}]: unknown speaker {turn.get('from')!r} (human or gpt)"
            )
        expected = "human" if i % 2 == 0 else "gpt"
        if role != expected:
            raise DataError(
                f"{where}: conversations[{i}] is from {role}, expected {expected} (turns alternate)"
            )
        turns.append((role, turn["value"]))
    if len(turns) % 2:
        raise DataError(f"{where}: the conversation ends with a human turn (no answer to supervise)")
    return tuple(turns)
