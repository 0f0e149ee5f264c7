"""remote.py

Reading a shard dataset's files where they are: a local path (a folder, or ``file://``) is opened in place;
any other URL (``https://``, ``s3://``, ... whatever fsspec reads) is streamed through fsspec. A URL that
cannot be read is tried again, `RETRIES` times with a wait that doubles from `BACKOFF_S`, then fails with
one `ShardError` naming it; a `WriteError` (the local side is full) is never retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

from mmbind.errors import ShardError, WriteError

RETRIES = 3  # further attempts after the first
BACKOFF_S = 0.5  # the first wait; doubled after each attempt
T = TypeVar("T")


def is_remote(location: str) -> bool:
    """Whether ``location`` is a URL to download (``file://`` and plain paths are local)."""
    return "://" in location and not location.startswith("file://")


def local_path(location: str) -> str:
    """``location`` without a ``file://`` scheme."""
    return location[len("file://"):] if location.startswith("file://") else location


def open_binary(location: str) -> IO[bytes]:
    """``location`` opened for reading bytes (fsspec for a URL)."""
    if not is_remote(location):
        return Path(local_path(location)).open("rb")
    import fsspec

    return fsspec.open(location, "rb").open()


def with_retries(location: str, action: Callable[[], T]) -> T:
    """``action()`` (which reads ``location``), tried again after a failure (a remote ``location`` only);
    the last failure is one `ShardError` naming ``location`` (a `ShardError` of ``action`` kept as is)."""
    attempts = 1 + (RETRIES if is_remote(location) else 0)
    delay = BACKOFF_S
    for attempt in range(attempts):
        try:
            return action()
        except WriteError:
            raise
        except Exception as exc:  # noqa: BLE001 -- any failure to read is retried, then reported
            if attempt + 1 == attempts:
                if isinstance(exc, ShardError):
                    raise
                tries = f" after {attempts} attempts" if attempts > 1 else ""
                raise ShardError(f"{location}: cannot be read{tries} ({_why(exc)})") from None
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def read_bytes(location: str) -> bytes:
    """The whole content of ``location`` (retried as `with_retries`)."""
    def read() -> bytes:
        with open_binary(location) as handle:
            return handle.read()

    return with_retries(location, read)


def _why(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "not found"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
