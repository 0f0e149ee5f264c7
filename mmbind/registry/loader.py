"""loader.py

Builds a `Registry` from plugin modules: the ``mmbind`` entry points (first- and third-party alike), or an
explicit list of modules (tests, notebooks).

Loading follows pluggy's ``load_setuptools_entrypoints`` but isolates each plugin: a module that fails to
import, or a hook that raises or returns something other than a list of entries, is recorded as failed
with the reason and the other plugins still load. ``MMBIND_DISABLE_PLUGINS=a,b`` blocks entry points by
name (as pytest's ``-p no:NAME``).
"""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import os
from types import ModuleType

import pluggy

from mmbind import hookspecs
from mmbind.registry.entries import ENTRY_TYPES, HOOK_KINDS
from mmbind.registry.registry import PluginRecord, Registry


def load_registry(modules: list[ModuleType] | None = None) -> Registry:
    """Registry of ``modules`` if given, else of every installed ``mmbind`` entry point."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    records: list[PluginRecord] = []
    sources: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, module)
    if modules is None:
        records += _register_entry_points(manager, sources)
    else:
        for module in modules:
            manager.register(module, name=module.__name__)
            sources[module.__name__] = ("(explicit)", module.__name__)
    records += _collect(manager, sources)
    return Registry(records)


@functools.lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry of installed plugins, loaded on first use (call ``cache_clear`` to reload)."""
    return load_registry()


def _register_entry_points(manager: pluggy.PluginManager, sources: dict[str, tuple[str, str]]) -> list[PluginRecord]:
    blocked = {n.strip() for n in os.environ.get("MMBIND_DISABLE_PLUGINS", "").split(",") if n.strip()}
    failed = []
    seen = set()
    for dist in metadata.distributions():
        dist_name = dist.metadata["name"] or "?"
        for ep in dist.entry_points:
            if ep.group != hookspecs.ENTRY_POINT_GROUP or ep.name in blocked:
                continue
            key = (ep.name, ep.value)
            if key in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add(key)
            try:
                module = ep.load()
                manager.register(module, name=f"{dist_name}:{ep.name}")
            except Exception as exc:  # a broken plugin must not break the others
                failed.append(PluginRecord("unknown", ep.name, dist_name, ep.value, "failed", _reason(exc)))
                continue
            sources[f"{dist_name}:{ep.name}"] = (dist_name, ep.value)
    return failed


def _collect(manager: pluggy.PluginManager, sources: dict[str, tuple[str, str]]) -> list[PluginRecord]:
    records = []
    for hook_name, kind in HOOK_KINDS.items():
        for impl in getattr(manager.hook, hook_name).get_hookimpls():
            source, module = sources.get(impl.plugin_name, ("?", impl.plugin_name))
            try:
                entries = impl.function()
                _check_entries(entries, ENTRY_TYPES[kind], hook_name)
            except Exception as exc:
                records.append(PluginRecord(kind, impl.plugin_name, source, module, "failed", _reason(exc)))
                continue
            records += [PluginRecord(kind, e.name, source, module, "ok", "", e) for e in entries]
    return records


def _check_entries(entries: object, entry_type: type, hook_name: str) -> None:
    if not isinstance(entries, (list, tuple)) or not all(isinstance(e, entry_type) for e in entries):
        raise TypeError(f"{hook_name}() must return a list of {entry_type.__name__}, got {entries!r}")


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
