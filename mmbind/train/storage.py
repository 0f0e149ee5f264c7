"""storage.py

Turning a failed write into the run folder (disk full, quota exceeded, permission denied, read-only file
system) into one `StorageError` that names the path and the OS reason and says how to continue: every
writer in training leaves the previous checkpoint intact, so ``mmbind train --resume RUN`` works once the
cause is fixed. Also the atomic text write (temporary file, then rename) the run's small files use.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from mmbind.errors import StorageError

STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EFBIG})


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a write failure of the file system (as opposed to a bug or bad input)."""
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def storage_error(exc: BaseException, run_dir: Path, what: str = "") -> StorageError:
    """One message: what could not be written, why (``strerror (ENOSPC)``) and how to continue."""
    if isinstance(exc, OSError) and exc.errno is not None:
        reason = f"{exc.strerror or os.strerror(exc.errno)} ({errno.errorcode.get(exc.errno, exc.errno)})"
        path = exc.filename
    else:
        reason, path = f"{type(exc).__name__}: {str(exc)[:200]}", None
    target = f"{what} ({path})" if what and path else (what or str(path or run_dir))
    return StorageError(f"cannot write {target}: {reason}; the previous checkpoint is intact: free space or "
                        f"fix permissions, then continue with: mmbind train --resume {run_dir}")


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` all at once (a crash leaves the old file or the new one)."""
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
