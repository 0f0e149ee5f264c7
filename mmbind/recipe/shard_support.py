"""shard_support.py

The libraries that reading and writing shards needs (webdataset, wids, fsspec: the ``shards`` extra), and
the check made when a recipe loads: a recipe naming ``shards:`` while one of them is not installed is a
`RecipeError` naming the pip extra, before training starts (as for trackers, `trackers.py`).
"""

from __future__ import annotations

import importlib.util

from mmbind.errors import RecipeError
from mmbind.recipe.training_schema import DataSpec

SHARD_LIBRARIES = ("webdataset", "wids", "fsspec")
INSTALL = "pip install 'mmbind[shards]'"


def missing_shard_libraries() -> list[str]:
    """The libraries of `SHARD_LIBRARIES` that are not installed."""
    return [name for name in SHARD_LIBRARIES if importlib.util.find_spec(name) is None]


def check_shards_installed(data: DataSpec | None, source: str) -> None:
    """`RecipeError` when a dataset of ``data`` names shards and a library reading them is missing."""
    for name, dataset in (data.datasets.items() if data is not None else ()):
        for i, file in enumerate(dataset.files):
            if file.shards is not None and (missing := missing_shard_libraries()):
                raise RecipeError(f"{source}: data.datasets.{name}.files.{i}.shards: reading shards needs "
                                  f"{', '.join(missing)}, not installed ({INSTALL})")
