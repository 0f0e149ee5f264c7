"""registry.py

`Registry`: an index of plugin contributions, with exact-name lookup, that imports plugins lazily.

Names are matched exactly (never by substring). An unknown name raises `UnknownPluginError` with
close-match suggestions; a name contributed by two providers raises `DuplicatePluginError` naming both.
Plugins that failed to load are kept as records with the reason, so `mmbind plugins` can show them.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable, Iterable

from mmbind.errors import DuplicatePluginError, UnknownPluginError
from mmbind.registry.entries import Entry, PartKind
from mmbind.registry.record import PluginRecord, Status
from mmbind.registry.sources import PluginSource

__all__ = ["PluginRecord", "Registry", "Status"]


class Registry:
    """Lookup of contributions by kind and exact name.

    Holds records already loaded and plugin ``sources`` not imported yet (entry points, from metadata).
    ``get(kind, name)`` first imports the sources with an entry point called ``name`` (the convention: a
    plugin's entry points are named after its parts); only when none of them contributes the part are the
    others imported, so an unknown name still lists every available one. ``records`` and ``names``
    import every source. What a registry contains never depends on the order of lookups.
    """

    def __init__(
        self, records: Iterable[PluginRecord] = (), sources: Iterable[PluginSource] = (),
        load: Callable[[PluginSource], list[PluginRecord]] | None = None,
    ) -> None:
        self._loaded = list(records)
        self._sources = tuple(sources)
        self._pending = list(self._sources)
        if self._pending and load is None:
            raise ValueError("a Registry with plugin sources needs a load function")
        self._load_source = load
        self._lock = threading.RLock()
        self._records = tuple(_mark_duplicates(self._loaded))

    @property
    def records(self) -> tuple[PluginRecord, ...]:
        """All records, in load order (imports every plugin)."""
        self._load(self._pending)
        return self._records

    def source_names(self) -> list[str]:
        """Sorted entry-point names of the installed plugins, from metadata (imports nothing)."""
        return sorted({name for source in self._sources for name in source.names})

    def names(self, kind: PartKind) -> list[str]:
        """Sorted names available for ``kind`` (duplicates included once; imports every plugin)."""
        return sorted({r.name for r in self.records if r.kind == kind and r.entry is not None})

    def get(self, kind: PartKind, name: str) -> Entry:
        """The contribution of ``kind`` named exactly ``name`` (imports the plugins needed to find it)."""
        self._load([s for s in self._pending if name in s.names])
        found = self._find(kind, name)
        if not found:
            self._load(self._pending)
            found = self._find(kind, name)
        if not found:
            raise UnknownPluginError(_unknown_message(kind, name, self.names(kind), self._failed()))
        if len(found) > 1:
            providers = " and ".join(sorted(f"{r.source} ({r.module})" for r in found))
            raise DuplicatePluginError(f"{kind} '{name}' is provided by both {providers}; uninstall one")
        return found[0].entry  # type: ignore[return-value]

    def find(self, kind: PartKind, name: str) -> Entry | None:
        """`get`, or None when no plugin contributes ``name`` (two contributions still raise)."""
        try:
            return self.get(kind, name)
        except UnknownPluginError:
            return None

    def _find(self, kind: PartKind, name: str) -> list[PluginRecord]:
        return [r for r in self._records if r.kind == kind and r.name == name and r.entry is not None]

    def _load(self, sources: list[PluginSource]) -> None:
        if not sources:
            return
        with self._lock:
            for source in list(sources):
                if source in self._pending:
                    self._pending.remove(source)
                    self._loaded += self._load_source(source)  # type: ignore[misc]
            self._records = tuple(_mark_duplicates(self._loaded))

    def _failed(self) -> list[PluginRecord]:
        return [r for r in self._records if r.status == "failed"]


def _mark_duplicates(records: list[PluginRecord]) -> list[PluginRecord]:
    """Mark every record whose (kind, name) is contributed more than once."""
    seen: dict[tuple[str, str], list[PluginRecord]] = {}
    for record in records:
        if record.entry is not None:
            seen.setdefault((record.kind, record.name), []).append(record)
    out = []
    for record in records:
        clash = seen.get((record.kind, record.name), [])
        if len(clash) > 1:
            others = ", ".join(f"{r.source} ({r.module})" for r in clash if r is not record)
            record = PluginRecord(
                record.kind, record.name, record.source, record.module, "duplicate",
                f"also provided by {others}", record.entry,
            )
        out.append(record)
    return out


def _unknown_message(kind: str, name: str, known: list[str], failed: list[PluginRecord]) -> str:
    message = f"unknown {kind} '{name}'"
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if close:
        message += "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
    else:
        message += f"; available: {', '.join(known) or 'none'}"
    if failed:
        message += " (plugins that failed to load: " + ", ".join(r.name for r in failed) + ")"
    return message
