"""record.py

`PluginRecord`: one row of ``mmbind plugins``, a contribution or a plugin that failed to load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
