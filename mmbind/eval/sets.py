"""sets.py

Evaluation sets of a generated dataset, as listed in its ``manifest.json`` (``eval_sets``): each a
LLaVA-format JSON file of single-round samples, ``kind`` ``open`` (with ``type`` and ``answer``) or
``pope`` (with ``split``, ``object`` and ``answer`` yes/no), for one ``modality`` (any data key: ``image``,
``video``, ``depth`` ...). A sample's media are its keys whose ``<key>`` tag is in the question (e.g. an
image and its depth map), in tag order. Media paths are relative to the set's file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmbind.errors import DataError
from mmbind.inference.target import Target
from mmbind.json_file import read_json
from mmbind.registry import default_registry
from mmbind.synth.manifest import MANIFEST, dataset_dir, read_manifest

_TAG = re.compile(r"<(\w+)>\n?")


@dataclass(frozen=True)
class EvalItem:
    """One question of a set."""

    id: str  # sample id
    modality: str | None  # data key of its first media item ("image", "video", "depth" ...); None: text
    media: Path | None  # the media file
    question: str  # the human turn without its media tags
    answer: str  # the ground-truth answer
    group: str  # question type (open sets) or negative-sampling split (POPE sets)
    also: tuple[tuple[str, Path], ...] = ()  # further (modality, file) items, in tag order

    def items(self) -> list[tuple[str, Path]]:
        """Every (modality, file) of the question, in tag order."""
        first = [(self.modality, self.media)] if self.modality and self.media else []
        return first + list(self.also)


@dataclass(frozen=True)
class EvalSet:
    """A named evaluation set."""

    name: str  # e.g. "video_pope"
    kind: str  # "open" or "pope"
    modality: str  # the modality it tests ("image", "video", "depth" ...): a model needs its encoder
    file: Path  # its JSON file
    items: list[EvalItem]  # its questions


def available_sets(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Set name -> manifest entry."""
    return dict(read_manifest(data_dir).get("eval_sets") or {})


def _item(sample: Any, file: Path, kind: str, index: int) -> EvalItem:
    where = f"{file}: sample {index}"
    try:
        question = sample["conversations"][0]["value"]
        answer = str(sample.get("answer", sample["conversations"][1]["value"]))
        group = str(sample["type"] if kind == "open" else sample["split"])
    except (KeyError, IndexError, TypeError) as exc:
        raise DataError(f"{where}: not an evaluation sample (missing {exc})") from None
    tags = [key for key in _TAG.findall(str(question)) if isinstance(sample.get(key), str)]
    if not tags:  # no tag in the text: its keys that an installed media loader reads, in its order
        loaders = set(default_registry().names("loader"))
        tags = [key for key, value in sample.items() if key in loaders and isinstance(value, str)]
    media = [(key, file.parent / sample[key]) for key in dict.fromkeys(tags)]
    first = media[0] if media else (None, None)
    text = _TAG.sub(lambda m: "" if m.group(1) in sample else m.group(0), str(question))
    return EvalItem(str(sample.get("id", index)), first[0], first[1], text, answer, group, tuple(media[1:]))


def load_set(data_dir: Path, name: str) -> EvalSet:
    """The set ``name`` of the dataset in ``data_dir``."""
    return select_sets(data_dir, [name])[0]


def _load_entry(data_dir: Path, name: str, entry: dict[str, Any]) -> EvalSet:
    file = data_dir / entry["file"]
    if not file.is_file():
        raise DataError(f"{file}: eval set {name!r} is listed in the manifest but the file is missing")
    samples = read_json(file, DataError)
    kind = entry["kind"]
    items = [_item(sample, file, kind, i) for i, sample in enumerate(samples)]
    return EvalSet(name, kind, entry["modality"], file, items)


def select_sets(data_dir: Path, names: Sequence[str] | None) -> list[EvalSet]:
    """The named sets (all when ``names`` is empty), unknown names reported before anything loads; the
    manifest is read once."""
    known = available_sets(data_dir)
    for name in names or ():
        if name not in known:
            raise DataError(f"unknown eval set {name!r} in {data_dir} (known: {', '.join(known) or 'none'})")
    return [_load_entry(data_dir, name, known[name]) for name in (names or list(known))]


def find_data_dir(target: Target, explicit: str | Path | None = None) -> Path:
    """The synthetic dataset: ``explicit``, else the folder of the run's data files holding the manifest."""
    if explicit is not None:
        data = Path(explicit)
        if not (data / MANIFEST).is_file():
            raise DataError(
                f"{data}: not a generated dataset ({MANIFEST} is missing; see `mmbind data synth`)"
            )
        return data
    datasets = ((target.recipe or {}).get("data") or {}).get("datasets") or {}
    found = dataset_dir(file["path"] for dataset in datasets.values() for file in dataset.get("files") or [])
    if found is not None:
        return found
    where = "its run's recipe names" if target.recipe else "it belongs to no run and"
    raise DataError(
        f"{target.model_dir}: no evaluation data found ({where} no generated dataset); pass --data DIR"
    )
