"""cache.py

`VerdictCache`: every valid verdict the judge gave, on disk, keyed by the SHA-256 of (question, answer,
prediction, judge model, prompt version), so re-running an evaluation asks the endpoint nothing and
reproduces its scores exactly. One JSON line per verdict in ``verdicts.jsonl``, appended and flushed as
each arrives (an interrupted run keeps what it was told; a torn last line is ignored); safe to share
between threads.

Only valid verdicts are reused. A reply that did not parse (an invalid verdict: the judge failing for a
while) is appended to ``invalid.jsonl`` for diagnosis and never read back, so the next run asks the judge
again; invalid rows an older version wrote into ``verdicts.jsonl`` are ignored when it is read.

A cache folder that cannot be written is one `WriteError` when the cache opens (before anything is asked),
and a write that fails later (a full disk) is one `WriteError` too.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from mmbind.eval.judge.verdict import Verdict
from mmbind.output_files import writing

CACHE_FILE = "verdicts.jsonl"
INVALID_FILE = "invalid.jsonl"  # invalid replies, for diagnosis only: never read


def verdict_key(question: str, answer: str, prediction: str, model: str, prompt_version: str) -> str:
    """The cache key of one verdict."""
    blob = json.dumps([question, answer, prediction, model, prompt_version], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


class VerdictCache:
    """Valid verdicts in ``folder/verdicts.jsonl``; invalid ones appended to ``folder/invalid.jsonl``."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / CACHE_FILE
        self.invalid_path = Path(folder) / INVALID_FILE
        self._lock = threading.Lock()
        self._verdicts: dict[str, Verdict] = {}
        with writing(folder, "the judge cache"):  # a folder that cannot be written fails now, not mid-run
            Path(folder).mkdir(parents=True, exist_ok=True)
            self.path.open("ab").close()
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    row = json.loads(line)
                    verdict = Verdict.from_json(row)
                    if verdict.valid:  # an invalid row (an older cache) is never reused
                        self._verdicts[row["key"]] = verdict
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue

    def __len__(self) -> int:
        return len(self._verdicts)

    def get(self, key: str) -> Verdict | None:
        """The cached verdict, if any (always a valid one)."""
        return self._verdicts.get(key)

    def put(self, key: str, verdict: Verdict) -> None:
        """Store and append a valid ``verdict`` at once; an invalid one only goes to ``invalid.jsonl``."""
        with self._lock:
            if verdict.valid:
                self._verdicts[key] = verdict
            _append(self.path if verdict.valid else self.invalid_path, {"key": key, **verdict.to_json()})


def _append(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` as one JSON line, after a newline if the file's last line was torn."""
    with writing(path, "the judge cache"), path.open("a+b") as out:  # reads anywhere, writes at the end
        size = out.seek(0, 2)
        torn = False
        if size:
            out.seek(size - 1)
            torn = out.read(1) != b"\n"
        out.write((b"\n" if torn else b"") + json.dumps(row).encode("utf-8") + b"\n")
