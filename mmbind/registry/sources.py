"""sources.py

Plugin sources: the installed ``mmbind`` entry points, read from distribution metadata only (no plugin is
imported here). Entry points that name the same module in one distribution form one source, so a module
contributing several parts can be listed once per part name, and is still imported and registered once.
``MMBIND_DISABLE_PLUGINS=a,b`` drops entry points by name (as pytest's ``-p no:NAME``).
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
from dataclasses import dataclass

from mmbind import hookspecs

DISABLE_ENV = "MMBIND_DISABLE_PLUGINS"


@dataclass(frozen=True)
class PluginSource:
    """One plugin module of one distribution, with the entry-point names that point at it."""

    distribution: str  # e.g. "mmbind" or "mmbind-example-encoder"
    module: str  # the entry point's value, e.g. "mmbind_plugins.projectors.linear"
    names: tuple[str, ...]  # entry-point names; by convention the names of the parts it contributes
    entry_point: metadata.EntryPoint  # loads the module

    @property
    def label(self) -> str:
        """The name a failed source is listed under."""
        return ",".join(self.names)


def blocked_names() -> set[str]:
    """Entry-point names disabled through ``MMBIND_DISABLE_PLUGINS``."""
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def discover_sources() -> list[PluginSource]:
    """Every installed, non-disabled ``mmbind`` plugin module, in metadata order."""
    blocked = blocked_names()
    grouped: dict[tuple[str, str], list[metadata.EntryPoint]] = {}
    for dist in metadata.distributions():
        dist_name = dist.metadata["name"] or "?"
        for ep in dist.entry_points:
            if ep.group != hookspecs.ENTRY_POINT_GROUP or ep.name in blocked:
                continue
            eps = grouped.setdefault((dist_name, ep.value), [])
            if all(e.name != ep.name for e in eps):  # the same distribution visible twice on sys.path
                eps.append(ep)
    return [
        PluginSource(dist_name, value, tuple(e.name for e in eps), eps[0])
        for (dist_name, value), eps in grouped.items()
    ]
