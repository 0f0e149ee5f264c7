"""dataset_manifest.py

Reading ``manifest.json``, the description a generated dataset (`mmbind data synth`, written by
`mmbind.synth.manifest`) carries: its format, counts, training files, tokenizer, every file with its SHA-256,
and its held-out evaluation sets (``eval_sets``: name -> file, kind, modality, samples). Evaluation and
ablation sweeps find a dataset and its sets through this module, not through the generator.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mmbind.errors import DataError
from mmbind.json_file import read_json

MANIFEST = "manifest.json"
FORMAT = "mmbind-synth/1"  # value of the "format" field


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest of the dataset in ``root``; `DataError` when there is none or it is not ours."""
    path = root / MANIFEST
    if not path.is_file():
        raise DataError(f"{root}: not a generated dataset ({MANIFEST} is missing; see `mmbind data synth`)")
    manifest = read_json(path, DataError)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path}: not an mmbind synthetic-data manifest (format {FORMAT!r} expected)")
    return manifest


def eval_set_entries(root: Path) -> dict[str, dict[str, Any]]:
    """The dataset's evaluation sets: name -> manifest entry (``file``, ``kind``, ``modality`` ...)."""
    return dict(read_manifest(root).get("eval_sets") or {})


def dataset_dir(files: Iterable[str | Path]) -> Path | None:
    """The first generated dataset (a folder holding a manifest) that one of ``files`` lives in."""
    for file in files:
        for folder in Path(file).parents:
            if (folder / MANIFEST).is_file():
                return folder
    return None
