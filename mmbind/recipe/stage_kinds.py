"""stage_kinds.py

A recipe stage's ``kind:`` looked up among the installed stage kinds (`mmbind.registry.StageKindEntry`,
contributed through the ``mmbind_stage_kinds`` hook: the built-in ``lm``, ``align``, ``mae`` and ``dpo`` as
any third party's), and the stage's ``options:`` validated by the kind's options model. Failures are
raised inside the stage's pydantic validation, so they are reported with the field path: an unknown kind
names the close matches (`stage_error`), and an option of another kind names that kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from mmbind.errors import PluginError
from mmbind.recipe.validation_errors import format_validation_error
from mmbind.registry import Registry, StageKindEntry, default_registry

STAGE_KIND = "stage_kind"


def stage_error(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as it is (no "Value error, " prefix)."""
    return PydanticCustomError("stage_kind", "{message}", {"message": message})


def registry_of(context: Mapping[str, Any] | None) -> Registry:
    """The registry a recipe is validated against: the validation context's ``registry``, else the installed
    plugins'."""
    registry = (context or {}).get("registry")
    return registry if registry is not None else default_registry()


def kind_entry(name: str, registry: Registry) -> StageKindEntry:
    """The installed stage kind ``name``; a `stage_error` naming the close matches when there is none."""
    try:
        return registry.get(STAGE_KIND, name)  # type: ignore[return-value]
    except PluginError as exc:
        raise stage_error(str(exc).replace("unknown stage_kind", "unknown stage kind")) from None


def validate_kind_options(
    entry: StageKindEntry, options: dict[str, Any], registry: Registry
) -> BaseModel | None:
    """The stage's ``options`` validated by its kind's model (None for a kind without options)."""
    if entry.options is None:
        if options:
            raise ValueError(f"options: kind {entry.name} takes no options"
                              + _owners(list(options), entry, registry))
        return None
    try:
        return entry.options.model_validate(options)
    except ValidationError as exc:
        stray = [str(e["loc"][0]) for e in exc.errors()
                 if e["type"] == "extra_forbidden" and len(e["loc"]) == 1]
        owners = _owners(stray, entry, registry)
        detail = format_validation_error(exc, prefix="options").replace("Value error, ", "")
        raise ValueError(f"kind {entry.name}: {detail}{owners}") from None


def _owners(keys: list[str], entry: StageKindEntry, registry: Registry) -> str:
    """``"; 'beta' is an option of kind dpo"`` for each key that another installed kind takes, or a hint
    of the kinds that take options at all."""
    others = [registry.get(STAGE_KIND, n) for n in registry.names(STAGE_KIND) if n != entry.name]
    found = []
    for key in keys:
        kinds = [o.name for o in others  # type: ignore[union-attr]
                 if o.options is not None and key in o.options.model_fields]  # type: ignore[union-attr]
        if kinds:
            found.append(f"'{key}' is an option of kind {' / '.join(kinds)}, not of kind {entry.name}")
    if found:
        return "; " + "; ".join(found)
    if entry.options is None:
        takes = sorted(o.name for o in others if o.options is not None)  # type: ignore[union-attr]
        return f" (kinds with options: {', '.join(takes) or 'none'})"
    return ""
