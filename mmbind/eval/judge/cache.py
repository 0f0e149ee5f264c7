"""cache.py

`VerdictCache`: every verdict the judge gave, on disk, keyed by the SHA-256 of (question, answer,
prediction, judge model, prompt version), so re-running an evaluation asks the endpoint nothing and
reproduces its scores exactly. One JSON line per verdict, appended and flushed as each arrives (an
interrupted run keeps what it was told; a torn last line is ignored); safe to share between threads.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from mmbind.eval.judge.verdict import Verdict

CACHE_FILE = "verdicts.jsonl"


def verdict_key(question: str, answer: str, prediction: str, model: str, prompt_version: str) -> str:
    """The cache key of one verdict."""
    blob = json.dumps([question, answer, prediction, model, prompt_version], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class VerdictCache:
    """Verdicts in ``folder/verdicts.jsonl``."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / CACHE_FILE
        self._lock = threading.Lock()
        self._verdicts: dict[str, Verdict] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    row = json.loads(line)
                    self._verdicts[row["key"]] = Verdict.from_json(row)
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue

    def __len__(self) -> int:
        return len(self._verdicts)

    def get(self, key: str) -> Verdict | None:
        """The cached verdict, if any."""
        return self._verdicts.get(key)

    def put(self, key: str, verdict: Verdict) -> None:
        """Store and append ``verdict`` at once."""
        with self._lock:
            self._verdicts[key] = verdict
            self.path.parent.mkdir(parents=True, exist_ok=True)
            torn = self.path.is_file() and self.path.stat().st_size and \
                not self.path.read_bytes()[-1:] == b"\n"
            with self.path.open("a", encoding="utf-8") as out:
                out.write(("\n" if torn else "") + json.dumps({"key": key, **verdict.to_json()}) + "\n")
