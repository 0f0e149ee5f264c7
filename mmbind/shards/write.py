"""write.py

``mmbind data shard``: LLaVA-format JSON / JSONL files and their media written as webdataset tar shards
(``OUT/shard-000000.tar`` ...; each sample ``<key>.json``, its record, and its media ``<key>.<data
key>.<n>.<ext>``, written by webdataset's `TarWriter` with fixed metadata, so the same inputs give the same
bytes), the records in order (``OUT/samples.jsonl``), the samples left out with the reason
(``OUT/bad_samples.jsonl``) and, last, the wids shard index ``OUT/index.json`` (`index_file`).

Resumable: after each shard, ``OUT/.progress.json`` records its size and sha256 (and the inputs and
settings); a rerun keeps every shard whose file still has them and writes the rest, so an interrupted run
continues and ends with the shards an uninterrupted one writes. Inputs or settings that differ from the
recorded ones are refused (``--overwrite`` starts over), as is a folder holding anything else
(`mmbind.output_folder`). Every file is written atomically (`mmbind.output_files`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mmbind.errors import OutputFolderError
from mmbind.output_files import atomic_file, write_text_atomic
from mmbind.output_folder import FLAG, SHARD, replace_folder
from mmbind.shards.index_file import FORMAT, INDEX, RECORDS, index_document
from mmbind.shards.plan import PlannedSample, cut_shards, plan_samples, record_bytes

PROGRESS = ".progress.json"
BAD_SAMPLES = "bad_samples.jsonl"
CHUNK = 1 << 20


@dataclass(frozen=True)
class ShardReport:
    """What ``write_shards`` wrote."""

    shards: int
    samples: int
    bad: int
    kept: int  # complete shards of an earlier run kept as they were
    bytes: int


def shard_name(position: int) -> str:
    """The file name of shard ``position``."""
    return f"shard-{position:06d}.tar"


def write_shards(
    inputs: Sequence[str], out: Path, roots: Mapping[str, str | None], shard_size: int,
    overwrite: bool = False, progress: Callable[[int, int], None] | None = None,
) -> ShardReport:
    """Write the shards of ``inputs`` into ``out`` (``roots``: per data key, the prefix of relative media
    paths); ``progress(samples done, samples in all)`` after each sample."""
    state = SHARD.claim(out, overwrite, [Path(p) for p in inputs])
    if state == "replace":
        replace_folder(out)
    samples, bad = plan_samples(inputs, roots)
    groups = cut_shards(samples, shard_size)
    settings = {"format": FORMAT, "inputs": [str(Path(p).resolve()) for p in inputs],
                "roots": {k: str(v) for k, v in sorted(roots.items()) if v}, "shard_size": shard_size}
    done = _earlier(out, settings) if state == "own" else []
    written: list[dict[str, Any]] = []
    kept = 0
    count = 0
    for position, group in enumerate(groups):
        name = shard_name(position)
        entry = {"url": name, "nsamples": len(group), "first": group[0].number}
        earlier = done[position] if position < len(done) else None
        if earlier is not None and _still_there(out / name, earlier, entry):
            written.append(earlier)
            kept += 1
        else:
            written.append({**entry, **write_shard(out / name, group)})
            write_text_atomic(out / PROGRESS, json.dumps({"settings": settings, "shards": written}) + "\n")
        count += len(group)
        if progress is not None:
            progress(count, len(samples))
    records = b"".join(record_bytes(s.record) + b"\n" for s in samples)
    with atomic_file(out / RECORDS, "wb") as handle:
        handle.write(records)
    write_text_atomic(out / BAD_SAMPLES, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in bad))
    document = index_document(written, hashlib.sha256(records).hexdigest(), out.resolve().name)
    write_text_atomic(out / INDEX, json.dumps(document, indent=1) + "\n")
    return ShardReport(len(groups), len(samples), len(bad), kept, sum(s["size"] for s in written))


def _earlier(out: Path, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The shards an earlier run recorded in ``out`` (refused when it had other inputs or settings)."""
    try:
        recorded = json.loads((out / PROGRESS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(recorded, dict) or not isinstance(recorded.get("shards"), list):
        return []
    if recorded.get("settings") != settings:
        raise OutputFolderError(f"{out}: holds shards written from other inputs or settings; pass {FLAG} to "
                                "write them again from these")
    return recorded["shards"]


def _still_there(path: Path, earlier: Any, entry: dict[str, Any]) -> bool:
    """Whether ``path`` is the complete shard recorded as ``earlier`` (same samples, size and sha256)."""
    if not isinstance(earlier, dict) or any(earlier.get(k) != v for k, v in entry.items()):
        return False
    try:
        if path.stat().st_size != earlier.get("size"):
            return False
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == earlier.get("sha256")


class _HashingWriter:
    """A writer that hashes and counts what passes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.raw.write(data)


def write_shard(path: Path, samples: Sequence[PlannedSample]) -> dict[str, Any]:
    """Write one shard atomically; returns its ``{sha256, size}``."""
    from webdataset import TarWriter

    with atomic_file(path, "wb") as handle:
        out = _HashingWriter(handle)
        with TarWriter(out, encoder=False, mtime=0.0) as tar:
            for sample in samples:
                members: dict[str, Any] = {"__key__": sample.key, "json": record_bytes(sample.record)}
                for name, file in sample.media:
                    members[name.split(".", 1)[1]] = file.read_bytes()
                tar.write(members)
    return {"sha256": out.digest.hexdigest(), "size": out.size}
