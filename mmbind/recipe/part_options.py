"""part_options.py

Checking a recipe's parts against the installed plugins: each part's plugin exists and serves its
modality, and its ``options`` validate against the plugin's own ``Options`` model (normalised in place to
their full form). Errors name the recipe file and the field (`RecipeError`, or a `PluginError` for an
unknown plugin).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from mmbind.errors import PluginError, RecipeError
from mmbind.recipe.schema import Recipe
from mmbind.recipe.validation_errors import format_validation_error
from mmbind.registry import Registry


def validate_parts(recipe: Recipe, source: str, registry: Registry) -> None:
    """Validate the options of the model's parts in place (normalised to their schemas' full form)."""
    model = recipe.model
    parts = [(f"model.encoders.{m}", "encoder", spec, m) for m, spec in model.encoders.items()]
    parts += [("model.projector", "projector", model.projector, None), ("model.llm", "llm", model.llm, None)]
    for field, kind, spec, modality in parts:
        spec.options = validate_part(field, kind, spec.plugin, spec.options, modality, source, registry)


def validate_part(
    field: str, kind: str, plugin: str, options: dict[str, Any], modality: str | None, source: str,
    registry: Registry,
) -> dict[str, Any]:
    """Look ``plugin`` up, check it serves ``modality`` and return its validated, normalised options;
    errors name ``source`` and ``field``."""
    try:
        entry = registry.get(kind, plugin)  # type: ignore[arg-type]
    except PluginError as exc:
        raise type(exc)(f"{source}: {field}.plugin: {exc}") from None
    if modality is not None and not entry.accepts(modality):  # type: ignore[union-attr]
        accepted = ", ".join(entry.modalities)  # type: ignore[union-attr]
        raise RecipeError(
            f"{source}: {field}: encoder '{plugin}' cannot serve modality '{modality}' "
            f"(it accepts: {accepted})"
        )
    try:
        validated = entry.options.model_validate(options)
    except ValidationError as exc:
        detail = format_validation_error(exc, prefix=f"{field}.options")
        raise RecipeError(f"{source}: invalid options for {kind} '{plugin}': {detail}") from None
    return validated.model_dump(mode="json")
