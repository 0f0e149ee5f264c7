"""stage_checks.py

`check_stage_kinds`: every stage cross-checked against the rest of the recipe by its kind
(`StageKindEntry.check`), so that a bad recipe fails when it is loaded, before anything runs. The encoder
pre-training kinds (``align``, ``mae``, options in `stage_options.py`) share `settle_encoder_stage` (the
stage's own settings: one learning rate, no LoRA, the trained encoder and one forward pass per step implied)
and `check_encoder_stage` (modalities that exist, text encoders and encoders taken from EARLIER align
stages, a stand-alone encoder's plugin and options).
"""

from __future__ import annotations

from typing import Any

from mmbind.errors import RecipeError
from mmbind.recipe.part_options import validate_part
from mmbind.recipe.schema import Recipe
from mmbind.recipe.stage_kinds import kind_entry
from mmbind.recipe.stage_options import AlignOptions, MaeStageOptions, StandaloneEncoderSpec
from mmbind.registry import Registry, default_registry


def check_stage_kinds(recipe: Recipe, source: str, registry: Registry | None = None) -> None:
    """Each stage cross-checked by its kind; raises `RecipeError`."""
    registry = registry or default_registry()
    for name, stage in (recipe.stages or {}).items():
        entry = kind_entry(stage.kind, registry)
        if entry.check is not None:
            entry.check(recipe, name, stage.kind_options(registry), registry, source)


def settle_encoder_stage(stage: Any, options: Any) -> None:
    """An align / mae stage's own settings: one learning rate, no LoRA; ``train`` (the pre-trained encoder)
    and ``per_device_batch`` (= global_batch: one forward pass per step) are implied. ``ValueError``."""
    if isinstance(stage.lr, dict):
        raise ValueError(f"kind {stage.kind}: lr must be one number")
    if stage.lora is not None:
        raise ValueError(f"kind {stage.kind}: lora applies to the LLM (lm stages only)")
    implied = [f"encoder:{options.modality}"]
    if "train" in stage.model_fields_set and stage.train != implied:
        raise ValueError(f"kind {stage.kind}: train is implied ({implied}: the pre-trained encoder); omit it")
    if "per_device_batch" in stage.model_fields_set and stage.per_device_batch != stage.global_batch:
        raise ValueError(
            f"kind {stage.kind}: one forward pass per step; omit per_device_batch (= global_batch)"
        )
    stage.train, stage.per_device_batch = implied, stage.global_batch


def check_encoder_stage(recipe: Recipe, name: str, opts: Any, registry: Registry, source: str) -> None:
    """An align / mae stage against the model and the stages before it; raises `RecipeError` naming
    ``source`` (the recipe file) and the field."""
    where = f"{source}: stages.{name}.options"
    stages = recipe.stages or {}
    earlier = _earlier(recipe, name, registry)
    modalities = list(recipe.model.encoders)
    standalone = isinstance(opts, AlignOptions) and opts.encoder is not None
    if standalone and registry.find("loader", opts.modality) is None:
        known = ", ".join(registry.names("loader"))
        raise RecipeError(f"{where}.modality: no media loader reads {opts.modality!r} (installed: {known})")
    in_model = isinstance(opts, (AlignOptions, MaeStageOptions)) and not standalone
    if in_model and opts.modality not in modalities:
        raise RecipeError(f"{where}.modality: the model has no {opts.modality!r} encoder "
                          f"(it has: {', '.join(modalities)})")
    if not isinstance(opts, AlignOptions):
        return
    text_from = opts.text_encoder.init_from
    if text_from is not None and not isinstance(earlier.get(text_from), AlignOptions):
        raise RecipeError(f"{where}.text_encoder.init_from: {text_from!r} is not an earlier align stage")
    source_enc = opts.init_from_encoder
    if source_enc is not None and source_enc not in modalities:
        donor = earlier.get(source_enc)
        if not isinstance(donor, AlignOptions) or donor.encoder is None:
            raise RecipeError(
                f"{where}.init_from_encoder: {source_enc!r} is neither a modality of the model "
                f"({', '.join(modalities)}) nor an earlier align stage with a stand-alone encoder"
            )
    if source_enc == opts.modality and opts.encoder is None:
        raise RecipeError(f"{where}.init_from_encoder: an encoder cannot be initialised from itself")
    if opts.encoder is not None:
        _validate_standalone(opts.encoder, stages[name].options["encoder"], opts.modality,
                             f"stages.{name}.options.encoder", source, registry)


def _earlier(recipe: Recipe, name: str, registry: Registry) -> dict[str, Any]:
    """The typed options of the stages before ``name`` (None for kinds without options)."""
    out: dict[str, Any] = {}
    for other, stage in (recipe.stages or {}).items():
        if other == name:
            break
        out[other] = stage.kind_options(registry)
    return out


def _validate_standalone(
    spec: StandaloneEncoderSpec, raw: dict[str, Any], modality: str, field: str, source: str,
    registry: Registry,
) -> None:
    """Check a stand-alone encoder's plugin and options (normalised in place, as the model's parts)."""
    raw["options"] = validate_part(field, "encoder", spec.plugin, spec.options, modality, source, registry)
