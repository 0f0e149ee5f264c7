"""registry.py

`Registry`: an immutable index of plugin contributions, with exact-name lookup.

Names are matched exactly (never by substring). An unknown name raises `UnknownPluginError` with
close-match suggestions; a name contributed by two providers raises `DuplicatePluginError` naming both.
Plugins that failed to load are kept as records with the reason, so `mmbind plugins` can show them.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from mmbind.errors import DuplicatePluginError, UnknownPluginError
from mmbind.registry.entries import Entry, PartKind

Status = Literal["ok", "duplicate", "failed"]


@dataclass(frozen=True)
class PluginRecord:
    """One row of `mmbind plugins`: a contribution, or a plugin that failed to load."""

    kind: PartKind | Literal["unknown"]  # "unknown" when the plugin module itself failed to import
    name: str  # the part name (or the entry-point name for a failed module)
    source: str  # the distribution providing it, e.g. "mmbind" or "mmbind-example-encoder"
    module: str  # the plugin module
    status: Status  # "ok", "duplicate" (another provider has the same name) or "failed"
    reason: str = ""  # why it failed or which providers clash
    entry: Entry | None = None  # the contribution itself (None when failed)

    def as_dict(self) -> dict[str, str]:
        """JSON-friendly view."""
        return {
            "kind": self.kind,
            "name": self.name,
            "source": self.source,
            "module": self.module,
            "status": self.status,
            "reason": self.reason,
            "description": getattr(self.entry, "description", ""),
        }


class Registry:
    """Lookup of contributions by kind and exact name."""

    def __init__(self, records: list[PluginRecord]) -> None:
        self._records = tuple(_mark_duplicates(records))

    @property
    def records(self) -> tuple[PluginRecord, ...]:
        """All records, in load order."""
        return self._records

    def names(self, kind: PartKind) -> list[str]:
        """Sorted names available for ``kind`` (duplicates included once)."""
        return sorted({r.name for r in self._records if r.kind == kind and r.entry is not None})

    def get(self, kind: PartKind, name: str) -> Entry:
        """The contribution of ``kind`` named exactly ``name``."""
        found = [r for r in self._records if r.kind == kind and r.name == name and r.entry is not None]
        if not found:
            raise UnknownPluginError(_unknown_message(kind, name, self.names(kind), self._failed()))
        if len(found) > 1:
            providers = " and ".join(sorted(f"{r.source} ({r.module})" for r in found))
            raise DuplicatePluginError(f"{kind} '{name}' is provided by both {providers}; uninstall one")
        return found[0].entry  # type: ignore[return-value]

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
