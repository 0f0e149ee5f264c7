"""cache.py

`ShardCache`: the folder (``data.shard_cache.dir``) where the shards a run reads are unpacked, so that the
media readers (and the feature cache, whose keys hash the files' bytes) see their members as ordinary
files. One entry per shard, named by the shard's sha256 (the same shard read from two places is one
entry), written into a staging folder and renamed into place once complete (several ranks or workers may
fetch the same shard; the first rename wins). Its ``.entry.json`` records the bytes it holds and, for a
shard read from a local folder, the shard's path, size and modification time (a changed shard is unpacked
again). Each access touches it; before a new entry is added, the least recently used entries are removed
until the new one fits under ``max_bytes``. A shard larger than ``max_bytes`` is a `ShardError`; a full
disk while writing is one `WriteError` naming the cache folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mmbind.errors import ShardError
from mmbind.output_files import make_folder, write_error

MARKER = ".entry.json"
WHAT = "the shard cache"


class ShardCache:
    """A folder of unpacked shards, at most ``max_bytes`` large."""

    def __init__(self, directory: str | Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes

    def lookup(self, sha256: str, stamp: str | None = None) -> Path | None:
        """The entry of the shard ``sha256`` (touched, as just used), None when absent or unpacked from a
        local shard that has changed since (``stamp``)."""
        folder = self.directory / sha256
        try:
            info = json.loads((folder / MARKER).read_text(encoding="utf-8"))
            if stamp is not None and info.get("source") != stamp:
                return None
            os.utime(folder / MARKER)
        except (OSError, ValueError):
            return None
        return folder

    def used(self) -> int:
        """Bytes held by the complete entries."""
        return sum(size for _, _, size in self._entries())

    def reserve(self, size: int, what: str) -> None:
        """Make room for an entry of ``size`` bytes, removing the least recently used entries."""
        if size > self.max_bytes:
            raise ShardError(f"{what}: the shard is {size:,} bytes, more than the shard cache may hold "
                             f"(data.shard_cache.max_bytes: {self.max_bytes:,}); raise max_bytes or write "
                             f"smaller shards (mmbind data shard --shard-size)")
        entries = sorted(self._entries())  # oldest first
        total = sum(s for _, _, s in entries)
        for _, folder, entry_size in entries:
            if total + size <= self.max_bytes:
                break
            _remove(folder)
            total -= entry_size

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A new folder in the cache to unpack into; removed unless `commit` moved it into place."""
        make_folder(self.directory, WHAT)
        try:
            folder = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.directory))
        except OSError as exc:
            raise write_error(exc, self.directory, WHAT) from None
        try:
            yield folder
        finally:
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)

    def commit(self, staging: Path, sha256: str, stamp: str | None = None) -> Path:
        """Move the unpacked ``staging`` folder into place as the entry of ``sha256``."""
        size = sum(p.stat().st_size for p in staging.iterdir())
        final = self.directory / sha256
        try:
            (staging / MARKER).write_text(json.dumps({"bytes": size, "source": stamp}), encoding="utf-8")
            if final.exists():  # changed local shard, or a broken entry: replaced
                _remove(final)
            staging.rename(final)
        except OSError as exc:
            if (final / MARKER).is_file():  # another process unpacked it first
                return final
            raise write_error(exc, self.directory, WHAT) from None
        return final

    def _entries(self) -> list[tuple[int, Path, int]]:
        """(last use in ns, folder, bytes) of each complete entry."""
        found = []
        if not self.directory.is_dir():
            return found
        for folder in self.directory.iterdir():
            marker = folder / MARKER
            try:
                found.append((marker.stat().st_mtime_ns, folder,
                              int(json.loads(marker.read_text(encoding="utf-8"))["bytes"])))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return found


def _remove(folder: Path) -> None:
    """Remove an entry: its marker first, so that it never counts as complete while half deleted."""
    with contextlib.suppress(OSError):
        (folder / MARKER).unlink()
    shutil.rmtree(folder, ignore_errors=True)
