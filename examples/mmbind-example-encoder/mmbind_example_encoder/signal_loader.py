"""signal_loader.py

Contributes the ``signal`` media loader: a new modality, one-dimensional sensor signals (an accelerometer
trace, a temperature log ...), read from ``.csv`` files (numbers separated by commas or new lines; with
several columns, the ``column`` option picks one) or ``.npy`` arrays. A sample names its file as
``"signal": "traces/0.csv"`` with a ``<signal>`` tag in its text. This is all mmbind needs to read a new
modality: an ``Options`` model, a `MediaLoader` whose ``load`` returns the decoded item, and a
``@hookimpl`` returning a `MediaLoaderEntry` named after the data key.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import mmbind
from mmbind.errors import MediaError
from mmbind.interfaces import MediaLoader


class SignalLoaderOptions(BaseModel):
    """Options of the ``signal`` loader (``data.media.signal`` in a recipe)."""

    model_config = ConfigDict(extra="forbid")
    column: int = Field(0, ge=0)  # the column of a multi-column CSV file


class SignalFiles(MediaLoader):
    """Reads one signal per file as a float32 array of its samples."""

    def __init__(self, options: SignalLoaderOptions) -> None:
        self.options = options

    def load(self, path: Path) -> np.ndarray:
        try:
            if path.suffix.lower() == ".npy":
                values = np.load(path, allow_pickle=False)
            else:
                rows = [line.split(",") for line in path.read_text(encoding="utf-8").split()]
                values = np.array([float(row[self.options.column]) for row in rows], dtype=np.float64)
        except (OSError, ValueError, IndexError, UnicodeDecodeError) as exc:
            raise MediaError(f"cannot read signal {path}: {type(exc).__name__}: {exc}") from None
        values = np.asarray(values, dtype=np.float32).reshape(-1)
        if values.size < 2 or not np.isfinite(values).all():
            raise MediaError(f"cannot read signal {path}: needs at least 2 finite samples")
        return values


def build(options: SignalLoaderOptions) -> SignalFiles:
    return SignalFiles(options)


@mmbind.hookimpl
def mmbind_media_loaders() -> list[mmbind.MediaLoaderEntry]:
    return [mmbind.MediaLoaderEntry("signal", SignalLoaderOptions, build, (".csv", ".npy"), False,
                                    "example plugin: 1-D sensor signals from CSV / NPY files")]
