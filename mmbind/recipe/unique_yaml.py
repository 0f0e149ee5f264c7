"""unique_yaml.py

`safe_load_unique`: ``yaml.safe_load`` that refuses a mapping with the same key twice (PyYAML keeps the
last one silently, so a recipe that sets ``lr`` twice would train with whichever came last).
"""

from __future__ import annotations

from typing import Any

import yaml


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping holds one key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader whose mappings reject repeated keys."""


def _construct_mapping(
    loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            first = seen[key].start_mark.line + 1
            raise DuplicateKeyError(
                None, None, f"duplicate key {key!r} (first set at line {first})", key_node.start_mark
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def safe_load_unique(text: str) -> Any:
    """Parse YAML ``text`` safely; a repeated key in any mapping raises `DuplicateKeyError` (a YAMLError)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
