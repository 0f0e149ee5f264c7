"""modalities.py

What the installed media loaders say about a data key (the core names no modality itself): its
`MediaLoaderEntry` (`loader_entry`), and whether its items have a time axis (`modality_temporal`, the
default of `BuildContext.temporal` for the encoder serving it).
"""

from __future__ import annotations

from mmbind.registry.entries import MediaLoaderEntry
from mmbind.registry.loader import default_registry
from mmbind.registry.registry import Registry


def loader_entry(modality: str, registry: Registry | None = None) -> MediaLoaderEntry | None:
    """The media loader contributed for ``modality``, or None when no plugin reads it."""
    return (registry or default_registry()).find("loader", modality)  # type: ignore[return-value]


def modality_temporal(modality: str | None, registry: Registry | None = None) -> bool:
    """Whether items of the data key ``modality`` are frame sequences, as its loader declares (False for
    a key without a loader, and for None: a shared part)."""
    if modality is None:
        return False
    entry = loader_entry(modality, registry)
    return bool(entry is not None and entry.temporal)
