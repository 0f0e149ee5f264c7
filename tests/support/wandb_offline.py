"""Reading a W&B offline run's ``run-<id>.wandb`` file back (the tests of ``report_to: [wandb]``).

The file is a LevelDB-style log (a 7-byte header, 32 KiB blocks of chunks with a 7-byte header each: CRC,
length, type full / first / middle / last) whose records are W&B's ``Record`` protobuf messages; W&B's
own Python reader is gone from recent clients, so this is the few lines it takes.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

_BLOCK, _HEADER = 32768, 7


def wandb_records(path: Path) -> list[Any]:
    """Every ``wandb_internal_pb2.Record`` of the ``.wandb`` file at ``path``, in order."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path}: not a W&B run file"
    pos, chunks, pending = _HEADER, [], b""
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + _HEADER])
        if length == 0 and kind == 0:  # block padding
            pos += left
            continue
        chunk, pos = data[pos + _HEADER:pos + _HEADER + length], pos + _HEADER + length
        if kind == 1:
            chunks.append(chunk)
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            chunks.append(pending + chunk)
    records = []
    for chunk in chunks:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        records.append(record)
    return records


def _nest(items: Any) -> dict[str, Any]:
    """History / config items as a mapping (a nested key such as ``chart.path`` nested, values decoded)."""
    out: dict[str, Any] = {}
    for item in items:
        keys = list(item.nested_key) or [item.key]
        where = out
        for key in keys[:-1]:
            where = where.setdefault(key, {})
        where[keys[-1]] = json.loads(item.value_json)
    return out


def wandb_history(path: Path) -> list[dict[str, Any]]:
    """The history rows (``run.log`` calls, values decoded from JSON) of a ``.wandb`` file."""
    return [_nest(r.history.item) for r in wandb_records(path) if r.WhichOneof("record_type") == "history"]


def wandb_config(path: Path) -> dict[str, Any]:
    """The run's config as updated in a ``.wandb`` file (top-level keys, values decoded from JSON)."""
    out: dict[str, Any] = {}
    for r in wandb_records(path):
        if r.WhichOneof("record_type") == "config":
            out.update(_nest(r.config.update))
    return out
