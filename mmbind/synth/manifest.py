"""manifest.py

``manifest.json`` of a generated dataset: generator settings, counts, the training files, the evaluation
sets (file, kind, modality, sample count), the tokenizer, and every file with its size and SHA-256 (no
timestamps, so two runs with one seed give byte-identical manifests). Reading it (`read_manifest`, how
evaluation finds a dataset's sets) is `mmbind.dataset_manifest`'s.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mmbind.dataset_manifest import FORMAT, MANIFEST


def file_entries(root: Path) -> list[dict[str, Any]]:
    """Every file under ``root`` (except the manifest) as {path, bytes, sha256}, sorted by path."""
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST):
        data = path.read_bytes()
        out.append({"path": path.relative_to(root).as_posix(), "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest()})
    return out


def write_manifest(root: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` (``fields`` plus the file list) into ``root``; returns it."""
    manifest = {"format": FORMAT, **fields, "files": file_entries(root)}
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest
