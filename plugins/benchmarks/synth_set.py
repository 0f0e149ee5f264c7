"""synth_set.py

The ``synth_set`` benchmark: one held-out set of a generated dataset (`mmbind data synth`), the questions
``mmbind eval RUN`` asks (it reads the dataset's manifest and loads each set it lists through this
benchmark). The file (``--data``) is a JSON array of LLaVA-format single-round samples: ``kind`` (option)
``open`` (each sample with ``type`` and ``answer``) or ``pope`` (with ``split`` and ``answer`` yes / no).
A sample's media are its keys whose ``<key>`` tag is in the question (e.g. an image and its depth map), in
tag order; without a tag, its keys that an installed media loader reads. Media paths are relative to the
file. Options: ``kind`` (``open``), ``modality`` (the one the set tests; default: its first item's) and
``name`` (default: the file's stem).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmbind import BenchmarkEntry, default_registry, hookimpl
from mmbind.errors import DataError
from mmbind.interfaces.benchmark import EvalItem, EvalSet
from mmbind.interfaces.benchmark_helpers import read_entries

NAME = "synth_set"
KINDS = ("open", "pope")
_TAG = re.compile(r"<(\w+)>\n?")


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


def load_synth_set(data: Path, options: Mapping[str, str]) -> EvalSet:
    """The set in the file ``data``."""
    file = Path(data)
    kind = options.get("kind", "open")
    if kind not in KINDS:
        raise DataError(f"--bench-option kind={kind}: expected one of {', '.join(KINDS)}")
    items = [_item(sample, file, kind, i) for i, sample in enumerate(read_entries(file))]
    modality = options.get("modality") or next((i.modality for i in items if i.modality), "text")
    return EvalSet(options.get("name") or file.stem, kind, modality, file, items)


@hookimpl
def mmbind_benchmarks() -> list[BenchmarkEntry]:
    return [BenchmarkEntry(NAME, load_synth_set,
                           "one held-out set of a generated dataset (mmbind data synth)")]
