"""loader.py

Importing plugin modules into `PluginRecord`s, and building a `Registry`: of the ``mmbind`` entry points
(first- and third-party alike; each module imported when one of its parts is first needed), or of an
explicit list of modules (tests, notebooks).

Loading follows pluggy's ``load_setuptools_entrypoints`` but isolates each plugin: a module that fails to
import, or a hook that raises or returns something other than a list of entries, is recorded as failed
with the reason and the other plugins still load.
"""

from __future__ import annotations

import functools
from types import ModuleType

import pluggy

from mmbind import hookspecs
from mmbind.registry.entries import ENTRY_TYPES, HOOK_KINDS
from mmbind.registry.record import PluginRecord
from mmbind.registry.registry import Registry
from mmbind.registry.sources import PluginSource, discover_sources


class PluginLoader:
    """Imports plugin modules and collects their contributions through one pluggy manager."""

    def __init__(self) -> None:
        self._manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self._manager.add_hookspecs(hookspecs)

    def load_source(self, source: PluginSource) -> list[PluginRecord]:
        """Import an entry point's module and return its records (one failed record if it cannot load)."""
        try:
            module = source.entry_point.load()
        except Exception as exc:  # a broken plugin must not break the others
            return [PluginRecord("unknown", source.label, source.distribution, source.module, "failed",
                                 _reason(exc))]
        name = f"{source.distribution}:{source.label}"
        return self._register(module, name, source.distribution, source.module, source.label)

    def load_module(self, module: ModuleType) -> list[PluginRecord]:
        """The records of an already imported module."""
        return self._register(module, module.__name__, "(explicit)", module.__name__, module.__name__)

    def _register(self, module: ModuleType, plugin_name: str, dist: str, module_name: str,
                  label: str) -> list[PluginRecord]:
        if self._manager.is_registered(module):  # listed by two distributions: its parts are already in
            return []
        try:
            self._manager.register(module, name=plugin_name)
        except Exception as exc:
            return [PluginRecord("unknown", label, dist, module_name, "failed", _reason(exc))]
        return self._collect(plugin_name, dist, module_name)

    def _collect(self, plugin_name: str, dist: str, module_name: str) -> list[PluginRecord]:
        records = []
        for hook_name, kind in HOOK_KINDS.items():
            for impl in getattr(self._manager.hook, hook_name).get_hookimpls():
                if impl.plugin_name != plugin_name:
                    continue
                try:
                    entries = impl.function()
                    _check_entries(entries, ENTRY_TYPES[kind], hook_name)
                except Exception as exc:
                    records.append(PluginRecord(kind, plugin_name, dist, module_name, "failed", _reason(exc)))
                    continue
                records += [PluginRecord(kind, e.name, dist, module_name, "ok", "", e) for e in entries]
        return records


def load_registry(modules: list[ModuleType] | None = None) -> Registry:
    """Registry of ``modules`` if given (loaded now), else of every installed ``mmbind`` entry point, whose
    modules are imported only when a part is looked up (``get``) or everything is listed (``records``)."""
    loader = PluginLoader()
    if modules is None:
        return Registry(sources=discover_sources(), load=loader.load_source)
    return Registry([record for module in modules for record in loader.load_module(module)])


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of installed plugins, created on first use (call ``cache_clear`` to reload)."""
    return load_registry()


def _check_entries(entries: object, entry_type: type, hook_name: str) -> None:
    if not isinstance(entries, (list, tuple)) or not all(isinstance(e, entry_type) for e in entries):
        raise TypeError(f"{hook_name}() must return a list of {entry_type.__name__}, got {entries!r}")


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
