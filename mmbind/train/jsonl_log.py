"""jsonl_log.py

Reading and repairing the run's append-only JSON-lines logs (``metrics.jsonl``, ``bad_samples.jsonl``). A
crash or a full disk in the middle of an append leaves a half-written last line: readers skip it, and a
resumed run cuts it off (`repair_jsonl`). A damaged line before the last one is an error naming the line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmbind.errors import CheckpointError
from mmbind.train.storage import write_text_atomic


def _parse(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """The records of ``path`` and whether its last line is torn."""
    if not path.is_file():
        return [], False
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    out: list[dict[str, Any]] = []
    torn = False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            if number == len(lines) or all(not rest.strip() for rest in lines[number:]):
                torn = True
                break
            raise CheckpointError(f"{path}:{number}: not a JSON object (a damaged log line)") from None
        out.append(record)
    return out, torn or (bool(text) and not text.endswith("\n"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete record of ``path`` (a torn last line is skipped; a missing file: none)."""
    return _parse(path)[0]


def repair_jsonl(path: Path) -> bool:
    """Cut a torn last line off ``path``; returns whether there was one."""
    records, torn = _parse(path)
    if torn:
        write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in records))
    return torn
