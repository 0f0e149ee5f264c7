"""mmbind.registry

Plugin contributions (`EncoderEntry`, `ProjectorEntry`, `LLMEntry`) and the `Registry` that holds what
the installed plugins contribute. The registry is built explicitly (`load_registry`) from the ``mmbind``
entry points; nothing is registered by import side effects, and a built registry is never edited.
"""

from mmbind.registry.entries import EncoderEntry, LLMEntry, ProjectorEntry, PartKind
from mmbind.registry.loader import default_registry, load_registry
from mmbind.registry.registry import PluginRecord, Registry

__all__ = [
    "EncoderEntry",
    "LLMEntry",
    "PartKind",
    "PluginRecord",
    "ProjectorEntry",
    "Registry",
    "default_registry",
    "load_registry",
]
