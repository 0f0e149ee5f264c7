"""unpack.py

`unpack_shard`: one pass over a shard's bytes (a local file or a download) that writes its members into a
folder and checks the whole against the index: the same size and sha256, else a `ShardError` naming the
shard and the index (nothing of it is kept). The tar is read with the standard library's ``tarfile`` in
stream mode (tar is the format: webdataset wrote it); only plain members with a plain name are written.
"""

from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path
from typing import IO

from mmbind.errors import ShardError
from mmbind.output_files import write_error

CHUNK = 1 << 20
_MEMBER = re.compile(r"^[\w][\w.-]*$")  # a member name without folders


class _Hashing:
    """A reader that hashes and counts what passes through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def unpack_shard(stream: IO[bytes], folder: Path, sha256: str, size: int, shard: str, index: str,
                 cache_dir: Path) -> None:
    """Write the members of the shard read from ``stream`` into ``folder``; `ShardError` when it is
    truncated, not a tar or fails its checksum (``shard``, ``index``: named in the message), `WriteError`
    naming ``cache_dir`` when a member cannot be written."""
    reader = _Hashing(stream)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                if member.isfile() and _MEMBER.match(member.name):
                    source = tar.extractfile(member)
                    assert source is not None
                    _write(source, folder / member.name, cache_dir)
        reader.drain()
    except tarfile.TarError as exc:
        raise ShardError(f"{shard}: truncated or not a tar file ({exc}; index {index})") from None
    if reader.size != size:
        raise ShardError(f"{shard}: truncated: {reader.size:,} bytes, the index {index} records {size:,}")
    got = reader.digest.hexdigest()
    if got != sha256:
        raise ShardError(f"{shard}: checksum mismatch (sha256 {got[:16]}..., the index {index} records "
                         f"{sha256[:16]}...): the shard is damaged or was replaced; write it again")


def _write(source: IO[bytes], target: Path, cache_dir: Path) -> None:
    """Copy ``source`` to ``target``: a failed write (not a failed read) is a `WriteError`."""
    try:
        out = open(target, "wb", buffering=0)  # unbuffered: a full disk shows in write(), not close()
    except OSError as exc:
        raise write_error(exc, cache_dir, "the shard cache") from None
    with out:
        while chunk := source.read(CHUNK):
            try:
                out.write(chunk)
            except OSError as exc:
                raise write_error(exc, cache_dir, "the shard cache") from None
