"""mmbind.registry

Plugin contributions (`EncoderEntry`, `ProjectorEntry`, `LLMEntry`, `BenchmarkEntry`, `MediaLoaderEntry`,
`StageKindEntry`)
and the `Registry` that holds what the installed plugins contribute. The registry is built explicitly
(`load_registry`) from the ``mmbind`` entry points; nothing is registered by import side effects.
Entry-point metadata gives the plugin modules without importing them; a module is imported when one of its
parts is looked up (see `Registry.get`).
"""

from mmbind.registry.entries import (
    BenchmarkEntry,
    EncoderEntry,
    LLMEntry,
    MediaLoaderEntry,
    PartKind,
    ProjectorEntry,
    StageKindEntry,
)
from mmbind.registry.loader import default_registry, load_registry
from mmbind.registry.record import PluginRecord
from mmbind.registry.registry import Registry
from mmbind.registry.sources import PluginSource, discover_sources

__all__ = [
    "BenchmarkEntry",
    "EncoderEntry",
    "LLMEntry",
    "MediaLoaderEntry",
    "PartKind",
    "PluginRecord",
    "PluginSource",
    "ProjectorEntry",
    "Registry",
    "StageKindEntry",
    "default_registry",
    "discover_sources",
    "load_registry",
]
