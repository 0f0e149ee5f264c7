"""unique_yaml.py

`safe_load_unique`: ``yaml.safe_load`` that refuses a mapping with the same key twice (PyYAML keeps the
last one silently, so a recipe that sets ``lr`` twice would train with whichever came last), and documents
no recipe needs: nested deeper than `MAX_DEPTH` (PyYAML's parser recurses: a deep enough document would
end in Python's `RecursionError`) or whose aliases expand to more than `MAX_VALUES` values (an "alias
bomb": nine anchors of nine aliases each are 387 million strings to validate and print). Each is a
`yaml.YAMLError` whose ``problem`` says why, so callers report it like any YAML error.
"""

from __future__ import annotations

from typing import Any

import yaml


class DuplicateKeyError(yaml.MarkedYAMLError):
    """A mapping holds one key twice."""


class OversizedYamlError(yaml.MarkedYAMLError):
    """A document nested too deeply, or whose aliases expand to too many values."""


MAX_DEPTH = 64  # nested mappings / lists; a recipe needs fewer than ten
MAX_VALUES = 1_000_000  # values once every alias is expanded; a large recipe holds a few hundred


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
    """Parse YAML ``text`` safely; a repeated key in any mapping raises `DuplicateKeyError`, a document too
    deep or too large once its aliases are expanded `OversizedYamlError` (both YAMLErrors)."""
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise OversizedYamlError(None, None, f"nested too deeply (more than {MAX_DEPTH} levels)", None) \
            from None
    _check_size(data)
    return data


def _check_size(data: Any) -> None:
    """`OversizedYamlError` when ``data`` nests deeper than `MAX_DEPTH` or expands to more than
    `MAX_VALUES` values (each shared object counted once per reference, computed once per object)."""
    sizes: dict[int, int] = {}

    def size(value: Any, depth: int) -> int:
        if not isinstance(value, (dict, list)):
            return 1
        if depth > MAX_DEPTH:
            raise OversizedYamlError(None, None, f"nested too deeply (more than {MAX_DEPTH} levels)", None)
        if id(value) not in sizes:
            children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            total = 1 + sum(size(child, depth + 1) for child in children)
            if total > MAX_VALUES:
                raise OversizedYamlError(None, None, f"its aliases expand to more than {MAX_VALUES:,} values",
                                         None)
            sizes[id(value)] = total
        return sizes[id(value)]

    size(data, 0)
