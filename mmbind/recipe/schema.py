"""schema.py

The recipe schema. Every section forbids unknown keys so that a typo is an error, not a silent default.
A part's ``options`` are checked against the plugin's own ``Options`` model when the recipe is loaded.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer

from mmbind.recipe.numerics_schema import NumericsSpec
from mmbind.recipe.strict import StrictModel
from mmbind.recipe.trackers import TRACKERS, unknown_tracker_message
from mmbind.recipe.training_schema import DataSpec, StageSpec


class PartSpec(StrictModel):
    """One swappable part: which plugin builds it and with which options."""

    plugin: str = Field(description="registered plugin name, matched exactly")
    options: dict[str, Any] = Field(default_factory=dict, description="validated by the plugin's Options")


class EncoderSpec(PartSpec):
    """An encoder for one modality (the key it is listed under)."""


class ProjectorSpec(PartSpec):
    """The projector(s) mapping encoder tokens to LLM embeddings."""

    shared: bool = Field(True, description="one projector for all modalities (Video-LLaVA) or one each")


class LLMSpec(PartSpec):
    """The language-model backend."""


class ModelSpec(StrictModel):
    """The model assembly: encoders by modality, projector, LLM."""

    encoders: dict[str, EncoderSpec] = Field(description="modality name -> encoder, e.g. image, video")
    projector: ProjectorSpec = Field(description="shared or per-modality projector")
    llm: LLMSpec = Field(description="causal language model backend")
    placeholder_ids: dict[str, int] | None = Field(
        None, description="token id of each modality's placeholder; default: '<modality>' tokens"
    )
    seed: int | None = Field(
        None, ge=0, le=2**32 - 1, description="seed for random initialisation of parts built from configs"
    )

    @field_validator("encoders")
    @classmethod
    def _at_least_one(cls, value: dict[str, EncoderSpec]) -> dict[str, EncoderSpec]:
        if not value:
            raise ValueError("at least one encoder is required")
        for key in value:
            if not key.isidentifier():
                raise ValueError(f"modality name {key!r} must be an identifier")
        return value


class Recipe(StrictModel):
    """A whole recipe."""

    name: str | None = Field(None, description="a short name shown in summaries and run folders")
    model: ModelSpec = Field(description="the model assembly")
    data: DataSpec | None = Field(None, description="training datasets (see training_schema.py)")
    stages: dict[str, StageSpec] | None = Field(None, description="training stages, run in order")
    report_to: list[str] = Field(
        default_factory=list,
        description="experiment trackers that receive the run's config, metrics and loss chart (rank 0): "
                    f"any of {', '.join(TRACKERS)}; each needs its extra, e.g. pip install 'mmbind[wandb]'",
    )
    numerics: NumericsSpec = Field(
        default_factory=NumericsSpec,
        description="the numerics mode: reproducible (the same bits on any x86-64 machine) or the default "
                    "(the fastest kernels this machine has)",
    )

    @field_validator("report_to")
    @classmethod
    def _known_trackers(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in TRACKERS:
                raise ValueError(unknown_tracker_message(name))
        if len(set(value)) != len(value):
            raise ValueError("a tracker is named twice")
        return value

    @model_serializer(mode="wrap")
    def _without_empty_trackers(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """An empty ``report_to`` and the default ``numerics`` are left out, so a recipe naming neither dumps
        (``recipe.yaml``, ``recipe show``, the lock) exactly as before trackers and the numerics mode
        existed."""
        data = handler(self)
        if not data.get("report_to"):
            data.pop("report_to", None)
        if self.numerics == NumericsSpec():
            data.pop("numerics", None)
        return data
