"""merge.py

Deep merge of recipe mappings (``base:`` inheritance) and dotted ``KEY=VALUE`` overrides.

Rules: mappings merge key by key, everything else is replaced. A part whose ``plugin`` changes is
replaced whole, so a swapped encoder never inherits the options of the one it replaces. ``null`` over a
mapping removes it (``video: null`` drops the video encoder); over anything else it is the value itself
(``max_grad_norm: null`` turns clipping off).
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from mmbind.errors import RecipeError
from mmbind.recipe.unique_yaml import safe_load_unique


def deep_merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` laid over ``base``; neither input is modified."""
    out = copy.deepcopy(base)
    for key, value in child.items():
        old = out.get(key)
        if value is None and isinstance(old, dict):
            out.pop(key)
        elif isinstance(old, dict) and isinstance(value, dict) and not _swaps_plugin(old, value):
            out[key] = deep_merge(old, value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _swaps_plugin(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return "plugin" in new and "plugin" in old and new["plugin"] != old["plugin"]


def apply_override(data: dict[str, Any], override: str) -> dict[str, Any]:
    """Apply one ``a.b.c=VALUE`` override (VALUE parsed as YAML) and return the new mapping."""
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"override {override!r}: expected KEY=VALUE, e.g. model.seed=0")
    try:
        value = safe_load_unique(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise RecipeError(f"override {override!r}: VALUE is not valid YAML ({_first_line(exc)})") from None
    parts = key.strip().split(".")
    out = copy.deepcopy(data)
    node = out
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(parts[: i + 1])
            raise RecipeError(f"override {override!r}: {where} is a {type(child).__name__}, not a mapping")
        node = child
    if value is None and isinstance(node.get(parts[-1]), dict):
        node.pop(parts[-1])
    else:
        node[parts[-1]] = value
    return out


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0]
