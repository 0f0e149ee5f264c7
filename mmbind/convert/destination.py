"""destination.py

`staged_destination`: where a converter writes. The destination may be neither the source nor inside it
(nor contain it); an existing non-empty folder is refused unless ``overwrite``. The converter writes into a
fresh sibling folder that replaces the destination only once everything is written, so a failed or
interrupted conversion leaves the old destination as it was and an overwrite leaves no stale files.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mmbind.errors import ConversionError


def check_destination(src: Path, dst: Path, overwrite: bool) -> None:
    """Raise `ConversionError` when writing ``dst`` could touch ``src`` or replace a folder not asked for."""
    source, target = src.resolve(), dst.resolve()
    if target == source or source in target.parents or target in source.parents:
        raise ConversionError(f"{dst}: is, holds or lies inside the source {src}; choose another destination")
    if target.exists() and not target.is_dir():
        raise ConversionError(f"{dst}: exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise ConversionError(f"{dst}: directory is not empty (pass --overwrite to replace it)")


@contextlib.contextmanager
def staged_destination(src: Path, dst: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder to write into; on success it becomes ``dst`` (replacing what was there)."""
    check_destination(src, dst, overwrite)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{dst.name}.partial-", dir=dst.parent))
    except OSError as exc:
        raise ConversionError(f"{dst}: cannot write here ({exc.strerror or exc})") from None
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if dst.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.old-", dir=dst.parent))
        dst.rename(old / "previous")
    staging.rename(dst)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
