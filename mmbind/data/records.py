"""records.py

LLaVA-format dataset files and their samples. A file is a JSON list of
``{"id", "image": path | [paths], "video": path | [paths], "conversations": [{"from", "value"}, ...]}``.
Files are read eagerly (an unreadable file is a `DataError` that stops the run); each sample is validated
lazily by `parse_record`, so one malformed sample is skipped and counted instead of killing the run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mmbind.errors import DataError
from mmbind.json_file import read_json

MEDIA_KEYS = ("image", "video")  # sample keys naming media files, one per modality
ROLES = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt"}


@dataclass(frozen=True)
class Record:
    """One validated sample."""

    id: str  # the sample's id (or FILE#INDEX when it has none)
    images: tuple[Path, ...]  # image files, in order of their <image> tags
    videos: tuple[Path, ...]  # video files, in order of their <video> tags
    turns: tuple[tuple[str, str], ...]  # (role "human"|"gpt", text), alternating, starting with human


@dataclass(frozen=True)
class SourceFile:
    """A dataset file's raw samples and media roots."""

    path: Path  # the JSON file
    samples: list[Any]  # raw JSON entries, validated on access
    image_root: Path  # prefix of relative image paths
    video_root: Path  # prefix of relative video paths


def read_source(path: str, image_root: str | None, video_root: str | None) -> SourceFile:
    """Read one JSON (or JSONL) dataset file."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: dataset file not found")
    samples = _read_jsonl(file) if file.suffix == ".jsonl" else read_json(file, DataError)
    if not isinstance(samples, list):
        raise DataError(f"{file}: expected a JSON list of samples, got {type(samples).__name__}")
    default = file.parent
    return SourceFile(
        file, samples,
        Path(image_root) if image_root else default,
        Path(video_root) if video_root else default,
    )


def keep_modalities(source: SourceFile, modalities: list[str] | None) -> SourceFile:
    """``source`` without the samples that have media of a modality outside ``modalities`` (None: all kept).
    Text-only samples, and malformed ones (so they are still reported), are kept."""
    if modalities is None:
        return source
    allowed = set(modalities)

    def keep(raw: Any) -> bool:
        return not isinstance(raw, dict) or all(raw.get(m) is None or m in allowed for m in MEDIA_KEYS)

    return replace(source, samples=[raw for raw in source.samples if keep(raw)])


def sample_id(source: SourceFile, index: int) -> str:
    """The sample's id, or FILE#INDEX when missing (used in reports even for malformed samples)."""
    raw = source.samples[index]
    if isinstance(raw, dict) and isinstance(raw.get("id"), (str, int)):
        return str(raw["id"])
    return f"{source.path.name}#{index}"


def parse_record(source: SourceFile, index: int) -> Record:
    """Validate sample ``index`` of ``source``; a `DataError` names the sample and the problem."""
    raw = source.samples[index]
    sid = sample_id(source, index)
    where = f"{source.path}: sample {sid}"
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected an object, got {type(raw).__name__}")
    images = _paths(raw.get("image"), source.image_root, f"{where}: image")
    videos = _paths(raw.get("video"), source.video_root, f"{where}: video")
    return Record(sid, images, videos, _turns(raw.get("conversations"), where))


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
        _check_unicode(turn["value"], f"{where}: conversations[{i}]")
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


def _check_unicode(text: str, where: str) -> None:
    """`DataError` when ``text`` cannot be encoded (a lone surrogate such as ``"\\udfff"`` from JSON)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        at = exc.start
        raise DataError(
            f"{where}: text is not valid Unicode (lone surrogate {text[at]!r} at character {at})"
        ) from None


def _read_jsonl(file: Path) -> list[Any]:
    """One JSON value per non-empty line."""
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not valid JSON (not UTF-8 text: {exc.reason})") from None
    samples = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                samples.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{file}: not valid JSON (line {number}: {exc.msg})") from None
    return samples
