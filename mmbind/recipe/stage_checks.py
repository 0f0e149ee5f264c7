"""stage_checks.py

`check_stage_kinds`: the options of align / mae stages (`stage_options.py`) cross-checked against the rest
of the recipe (modalities that exist, text encoders and encoders taken from EARLIER align stages, a
stand-alone encoder's plugin and options) so that a bad recipe fails when it is loaded, before anything
runs.
"""

from __future__ import annotations

from typing import Any

from mmbind.errors import RecipeError
from mmbind.recipe.part_options import validate_part
from mmbind.recipe.schema import Recipe
from mmbind.recipe.stage_options import AlignOptions, MaeStageOptions, StandaloneEncoderSpec
from mmbind.registry import Registry, default_registry


def check_stage_kinds(recipe: Recipe, source: str, registry: Registry | None = None) -> None:
    """Cross-check align/mae stages against the model and the stage order; raises `RecipeError`."""
    registry = registry or default_registry()
    stages = recipe.stages or {}
    modalities = list(recipe.model.encoders)
    seen: dict[str, Any] = {}  # earlier stages: name -> typed options (None for lm)
    for name, stage in stages.items():
        where = f"{source}: stages.{name}.options"
        opts = stage.kind_options()
        standalone = isinstance(opts, AlignOptions) and opts.encoder is not None
        if standalone and registry.find("loader", opts.modality) is None:  # type: ignore[union-attr]
            known = ", ".join(registry.names("loader"))
            raise RecipeError(f"{where}.modality: no media loader reads {opts.modality!r} (installed: "  # type: ignore[union-attr]
                              f"{known})")
        in_model = isinstance(opts, (AlignOptions, MaeStageOptions)) and not standalone
        if in_model and opts.modality not in modalities:
            raise RecipeError(f"{where}.modality: the model has no {opts.modality!r} encoder "
                              f"(it has: {', '.join(modalities)})")
        if isinstance(opts, AlignOptions):
            text_from = opts.text_encoder.init_from
            if text_from is not None and not isinstance(seen.get(text_from), AlignOptions):
                raise RecipeError(f"{where}.text_encoder.init_from: {text_from!r} is not an earlier "
                                  "align stage")
            source_enc = opts.init_from_encoder
            if source_enc is not None and source_enc not in modalities:
                earlier = seen.get(source_enc)
                if not isinstance(earlier, AlignOptions) or earlier.encoder is None:
                    raise RecipeError(
                        f"{where}.init_from_encoder: {source_enc!r} is neither a modality of the model "
                        f"({', '.join(modalities)}) nor an earlier align stage with a stand-alone encoder"
                    )
            if source_enc == opts.modality and opts.encoder is None:
                raise RecipeError(f"{where}.init_from_encoder: an encoder cannot be initialised from itself")
            if opts.encoder is not None:
                _validate_standalone(opts.encoder, stage.options["encoder"], opts.modality,
                                     f"stages.{name}.options.encoder", source, registry)
        seen[name] = opts


def _validate_standalone(
    spec: StandaloneEncoderSpec, raw: dict[str, Any], modality: str, field: str, source: str,
    registry: Registry,
) -> None:
    """Check a stand-alone encoder's plugin and options (normalised in place, as the model's parts)."""
    raw["options"] = validate_part(field, "encoder", spec.plugin, spec.options, modality, source, registry)
