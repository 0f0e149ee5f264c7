"""output_files.py

The one output writer: every failed write of a command's output (a full disk, a quota, permission denied,
a read-only file system, a folder on the way that is missing or is a file, a name too long) becomes one
`WriteError` naming the path and the reason (`write_error`), never an ``OSError`` traceback; and a file is
written whole or not at all (`write_text_atomic` / `atomic_file`: a temporary file in the same folder,
then ``os.replace``; a failure removes the temporary file and leaves the old one as it was).

`writing(path)` guards a block that appends to (or otherwise writes) ``path``; `make_folder` creates an
output folder. What a command may write over is decided before, by `mmbind.output_folder`.

Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from mmbind.errors import WriteError

REASONS = {  # errno -> what the user is told
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "a folder on the way does not exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "is a folder, not a file",
    errno.ENAMETOOLONG: "file name too long",
    errno.EEXIST: "already exists",
    errno.ELOOP: "too many symbolic links",
}


def reason(exc: OSError) -> str:
    """``what happened (ENOSPC)`` for ``exc``."""
    if exc.errno is None:
        return str(exc) or type(exc).__name__
    text = REASONS.get(exc.errno) or exc.strerror or os.strerror(exc.errno)
    return f"{text} ({errno.errorcode.get(exc.errno, exc.errno)})"


def write_error(exc: OSError, path: Path | str, what: str = "") -> WriteError:
    """``cannot write <what> <path>: <reason>`` (``path``: the output the user named, not a temporary
    file)."""
    label = f"{what} " if what else ""
    return WriteError(f"cannot write {label}{path}: {reason(exc)}")


@contextlib.contextmanager
def writing(path: Path | str, what: str = "") -> Iterator[None]:
    """Turn an ``OSError`` raised in the block into `write_error` naming ``path``."""
    try:
        yield
    except WriteError:
        raise
    except OSError as exc:
        raise write_error(exc, path, what) from None


def make_folder(folder: Path | str, what: str = "") -> Path:
    """Create ``folder`` (and its parents); `WriteError` when it cannot be."""
    folder = Path(folder)
    with writing(folder, what):
        folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def atomic_file(path: Path | str, mode: str = "w", what: str = "") -> Iterator[IO[Any]]:
    """A file object writing a temporary sibling of ``path``, which replaces ``path`` when the block ends
    without an error; any failure removes it (``path`` keeps its old content) and an ``OSError`` becomes a
    `WriteError`. ``mode``: ``"w"`` (UTF-8 text) or ``"wb"``."""
    path = Path(path)
    make_folder(path.parent, what)
    tmp: Path | None = None
    try:
        with writing(path, what):
            handle, name = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".partial", dir=path.parent)
            tmp = Path(name)
            with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as out:
                yield out
                out.flush()
            os.replace(tmp, path)
            tmp = None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path | str, text: str, what: str = "") -> None:
    """Replace ``path`` with ``text`` (UTF-8) all at once."""
    with atomic_file(path, "w", what) as out:
        out.write(text)


def write_bytes_atomic(path: Path | str, data: bytes, what: str = "") -> None:
    """Replace ``path`` with ``data`` all at once."""
    with atomic_file(path, "wb", what) as out:
        out.write(data)


FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})  # a write failed, wherever it was
ON_PATH = frozenset({errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG,
                     errno.ELOOP})  # a write failed when the path is one of the outputs


def as_write_error(exc: OSError, outputs: Sequence[Path]) -> WriteError | None:
    """``exc`` as the `WriteError` of the command writing ``outputs`` when it is a failed write (the disk
    is full anywhere, or an output's path, or a temporary sibling of it, is refused); None otherwise."""
    named = Path(os.fsdecode(exc.filename)).absolute() if isinstance(exc.filename, (str, bytes)) else None
    for output in outputs:
        out = Path(output).absolute()
        if named is not None and (named == out or out in named.parents
                                  or (named.parent == out.parent and named.name.startswith(f".{out.name}."))):
            if exc.errno in FULL | ON_PATH:
                return write_error(exc, output)
    if exc.errno in FULL and outputs:
        return write_error(exc, named if named is not None else outputs[0])
    return None
