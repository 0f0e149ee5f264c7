"""destination.py

`staged_destination`: where a converter writes. The destination may be neither the source nor inside it
(nor contain it); an existing non-empty folder is refused unless ``overwrite`` (the shared rule of
`mmbind.output_folder`: a conversion never continues an earlier one). The converter writes into a fresh
sibling folder that replaces the destination only once everything is written, so a failed or interrupted
conversion leaves the old destination as it was and an overwrite leaves no stale files.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from mmbind.errors import ConversionError
from mmbind.output_folder import CONVERT, staged_folder


def check_destination(src: Path, dst: Path, overwrite: bool) -> None:
    """Raise `ConversionError` when writing ``dst`` could touch ``src``, `OutputFolderError` when it would
    replace a folder not asked for."""
    source, target = src.resolve(), dst.resolve()
    if target == source or source in target.parents or target in source.parents:
        raise ConversionError(f"{dst}: is, holds or lies inside the source {src}; choose another destination")
    if target.exists() and not target.is_dir():
        raise ConversionError(f"{dst}: exists and is not a directory")
    CONVERT.claim(dst, overwrite)


@contextlib.contextmanager
def staged_destination(src: Path, dst: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder to write into; on success it becomes ``dst`` (replacing what was there)."""
    check_destination(src, dst, overwrite)
    with staged_folder(dst, ConversionError) as staging:
        yield staging
