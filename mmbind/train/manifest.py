"""manifest.py

A checkpoint's ``files.json``: every file's size and SHA-256, written last (before the checkpoint directory
is renamed into place) and checked on resume, so a truncated, edited or missing file is found before any
of it is loaded. Checkpoints from before the manifest existed have none; they are checked for loadability.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MANIFEST = "files.json"
_CHUNK = 1 << 22


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: Path) -> Path:
    """Write ``files.json`` listing every other file of ``directory`` (name -> size, sha256)."""
    files = {
        p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)}
        for p in sorted(directory.iterdir()) if p.is_file() and p.name != MANIFEST
    }
    out = directory / MANIFEST
    out.write_text(json.dumps({"version": 1, "files": files}, indent=1) + "\n", encoding="utf-8")
    return out


def manifest_problem(directory: Path, required: tuple[str, ...]) -> str | None:
    """Why ``directory`` does not match its manifest (None: it does, or it has none); ``required`` names
    files every checkpoint must list."""
    path = directory / MANIFEST
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
        entries = {str(k): (int(v["size"]), str(v["sha256"])) for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"{MANIFEST} is unreadable ({type(exc).__name__})"
    for name in required:
        if name not in entries:
            return f"{MANIFEST} does not list {name}"
    for name, (size, digest) in entries.items():
        file = directory / name
        if not file.is_file():
            return f"{name} is missing"
        if file.stat().st_size != size:
            return f"{name} has {file.stat().st_size} bytes, {size} were written"
        if sha256_file(file) != digest:
            return f"{name} does not match its SHA-256 in {MANIFEST}"
    return None
