"""media_options.py

The options of a data key's media loader (the recipe's ``data.media.<key>``): `loader_options` merges what
the recipe gives with the run's defaults (``data.video_frames`` / ``data.video_backend`` for the fields
``frames`` and ``backend`` of temporal loaders) and command-line overrides (``--frames``), then validates
them with the loader's own ``Options`` model; `check_media_options` does it for every key of a recipe's
``data.media`` when the recipe loads, so ``mmbind recipe show`` refuses what ``mmbind train`` would (a key
no installed loader reads, with the closest names; ``fps: 0``; ``max_frames`` below ``min_frames``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from mmbind.errors import RecipeError
from mmbind.recipe.training_schema import DataSpec
from mmbind.recipe.validation_errors import format_validation_error
from mmbind.registry import MediaLoaderEntry, Registry

TEMPORAL_FIELDS = ("frames", "fps", "max_frames", "min_frames")  # how a temporal loader samples time steps


def loader_options(
    entry: MediaLoaderEntry, raw: Mapping[str, Any], defaults: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> BaseModel:
    """``raw`` (the recipe's options of ``entry``'s key) over ``defaults`` (fields it leaves out), then
    ``overrides`` (a temporal override replaces every temporal field of ``raw``), validated by the loader's
    ``Options`` (a pydantic `ValidationError` when it rejects them)."""
    fields = entry.options.model_fields
    usable = {k for k in fields if entry.temporal or k not in TEMPORAL_FIELDS}
    merged = {k: v for k, v in (defaults or {}).items() if k in usable and k not in raw and v is not None}
    merged.update(raw)
    given = {k: v for k, v in (overrides or {}).items() if k in usable and v is not None}
    if any(k in TEMPORAL_FIELDS for k in given):
        merged = {k: v for k, v in merged.items() if k not in TEMPORAL_FIELDS}
    merged.update(given)
    return entry.options.model_validate(merged)


def options_error(entry: MediaLoaderEntry, modality: str, exc: ValidationError) -> str:
    """``invalid options for media loader 'KEY': data.media.KEY.field: what was expected (got VALUE)``."""
    detail = format_validation_error(exc, prefix=f"data.media.{modality}").replace("Value error, ", "")
    return f"invalid options for media loader {entry.name!r}: {detail}"


def unknown_key_message(modality: str, known: list[str]) -> str:
    """Why ``data.media.<modality>`` names no loader, with the closest installed loaders' keys."""
    close = difflib.get_close_matches(modality, known, n=3, cutoff=0.6)
    hint = ("did you mean " + " or ".join(f"'{c}'" for c in close) + "?") if close else \
        f"installed loaders: {', '.join(known) or 'none'}"
    return (f"data.media.{modality}: no media loader reads data key {modality!r}; {hint} (a plugin "
            "contributes one through the mmbind_media_loaders hook)")


def check_media_options(data: DataSpec | None, source: str, registry: Registry) -> None:
    """Every key of ``data.media`` has an installed loader and options it accepts (with the run's
    defaults filled in, as training reads them); else a `RecipeError` naming ``source`` and the field."""
    if data is None:
        return
    defaults = {"frames": data.video_frames, "backend": data.video_backend}
    for modality, raw in data.media.items():
        entry = registry.find("loader", modality)
        if not isinstance(entry, MediaLoaderEntry):
            raise RecipeError(f"{source}: {unknown_key_message(modality, registry.names('loader'))}")
        try:
            loader_options(entry, raw or {}, defaults)
        except ValidationError as exc:
            raise RecipeError(f"{source}: {options_error(entry, modality, exc)}") from None
