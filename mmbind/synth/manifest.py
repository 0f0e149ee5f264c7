"""manifest.py

``manifest.json`` of a generated dataset: generator settings, counts, the training files, the evaluation
sets (file, kind, modality, sample count), the tokenizer, and every file with its size and SHA-256 (no
timestamps, so two runs with one seed give byte-identical manifests). `read_manifest` is how evaluation
finds a dataset's sets.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mmbind.errors import DataError
from mmbind.json_file import read_json

MANIFEST = "manifest.json"
FORMAT = "mmbind-synth/1"  # value of the "format" field


def file_entries(root: Path) -> list[dict[str, Any]]:
    """Every file under ``root`` (except the manifest) as {path, bytes, sha256}, sorted by path."""
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST):
        data = path.read_bytes()
        out.append({"path": path.relative_to(root).as_posix(), "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()})
    return out


def dataset_dir(files: Iterable[str | Path]) -> Path | None:
    """The first generated dataset (a folder holding a manifest) that one of ``files`` lives in."""
    for file in files:
        for folder in Path(file).parents:
            if (folder / MANIFEST).is_file():
                return folder
    return None


def write_manifest(root: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` (``fields`` plus the file list) into ``root``; returns it."""
    manifest = {"format": FORMAT, **fields, "files": file_entries(root)}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest of the dataset in ``root``; `DataError` when there is none or it is not ours."""
    path = root / MANIFEST
    if not path.is_file():
        raise DataError(f"{root}: not a generated dataset ({MANIFEST} is missing; see `mmbind data synth`)")
    manifest = read_json(path, DataError)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path}: not an mmbind synthetic-data manifest (format {FORMAT!r} expected)")
    return manifest
