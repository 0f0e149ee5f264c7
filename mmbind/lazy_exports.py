"""lazy_exports.py

A package's public names imported from their modules on first access (PEP 562), so that importing the
package imports none of them (``mmbind``, ``mmbind.interfaces`` and ``mmbind.media`` would otherwise pull
in torch, PIL and transformers for a command that needs none of them):

    __getattr__, __dir__ = lazy_exports(__name__, globals(), {"MultimodalLM": "mmbind.model", ...})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, namespace: dict[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: each name of ``homes`` (name -> module path) is
    imported from its module when first asked for, then kept in ``namespace`` (the package's globals)."""

    def __getattr__(name: str) -> Any:
        module = homes.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
