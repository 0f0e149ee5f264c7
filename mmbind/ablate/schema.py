"""schema.py

The sweep file of ``mmbind ablate``: a base recipe, variants (overrides of it, or another recipe), seeds,
an optional data-preparation step, what to evaluate and which metrics to tabulate. Unknown keys are errors.

    name: alignment
    base: ../tiny/study.yaml                  # relative to this file
    seeds: [0, 1, 2]
    data: {synth: {out: data/study, size: default, seed: 0}}
    overrides: [stages.finetune.epochs=2]    # applied to every variant
    variants:
      united: {}
      separated_clip: {recipe: ../tiny/study_separated_clip.yaml, label: separated CLIP}
      video_only: {overrides: ["data.datasets.finetune.modalities=[video]"]}
    eval: {sets: all, max_new_tokens: 10}
    metrics: [image_open.overall.accuracy, {key: video_pope.*.f1, label: video POPE F1}]
    output: runs/ablations/alignment          # default: runs/ablations/<name>

Paths other than ``base`` and variants' ``recipe`` (``output``, ``data.synth.out``) are relative to the
working directory, as recipes' data paths are.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator

from mmbind.errors import SweepError
from mmbind.recipe.loader import read_yaml_mapping
from mmbind.recipe.strict import StrictModel
from mmbind.recipe.validation_errors import format_validation_error
from mmbind.synth.sizes import SIZES

_NAME_RULE = "use letters, digits, '_', '-', '.' (it names a folder)"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SCORE_KEY = re.compile(r"^[A-Za-z0-9_]+(\.([A-Za-z0-9_-]+|\*))+$")


class SynthStep(StrictModel):
    """Generate the synthetic benchmark once (skipped when ``out`` already holds a manifest)."""

    out: str = Field(description="dataset directory, as the recipes' data paths name it")
    size: str = Field("default", description="size preset of `mmbind data synth` (micro, small, default)")
    seed: int = Field(0, description="generator seed (the same data for every run of the sweep)")
    world: Literal["default", "long"] = Field("default", description="which synthetic world (--world)")

    @field_validator("size")
    @classmethod
    def _known_size(cls, value: str) -> str:
        if value not in SIZES:
            raise ValueError(f"unknown dataset size {value!r} (choose from: {', '.join(SIZES)})")
        return value


class DataStep(StrictModel):
    """Data preparation before the first run."""

    synth: SynthStep | None = Field(None, description="run `mmbind data synth` if the dataset is missing")


class VariantSpec(StrictModel):
    """One arm of the ablation: a recipe (default: the base) with overrides."""

    recipe: str | None = Field(None, description="recipe path relative to the sweep file (default: base)")
    overrides: list[str] = Field(default_factory=list, description="KEY=VALUE recipe overrides")
    label: str | None = Field(None, description="name in tables and the chart (default: the variant's key)")
    series: str | None = Field(None, description="line of the tokens chart this variant is a point of")


class EvalSpec(StrictModel):
    """What each trained run is evaluated on (see `mmbind eval`)."""

    sets: list[str] | Literal["all"] = Field("all", description="eval set names, or all sets of the dataset")
    batch_size: int = Field(64, ge=1, description="prompts per generate call")
    max_new_tokens: int = Field(10, ge=1, description="tokens generated per answer")
    limit: int | None = Field(None, ge=1, description="first N questions of each set only")


class MetricSpec(StrictModel):
    """One tabulated number: ``SET.path.in.metrics`` of an eval result (``*``: mean over that level)."""

    key: str = Field(description="e.g. video_open.overall.accuracy, image_pope.random.f1, image_pope.*.f1")
    label: str | None = Field(None, description="column / bar-group name (default: the key)")
    percent: bool = Field(True, description="show x100 (scores in [0, 1]); CSV keeps raw values")

    @field_validator("key")
    @classmethod
    def _key_shape(cls, value: str) -> str:
        if not _SCORE_KEY.match(value):
            example = "video_open.overall.accuracy"
            raise ValueError(f"metric key {value!r}: expected SET.path.to.score, e.g. {example}")
        return value

    @property
    def set_name(self) -> str:
        """The eval set the metric comes from."""
        return self.key.split(".")[0]

    @property
    def path(self) -> list[str]:
        """The path inside the set's ``metrics``."""
        return self.key.split(".")[1:]

    @property
    def title(self) -> str:
        """Label, else key."""
        return self.label or self.key


class TokensChart(StrictModel):
    """``results_tokens.png``: each variant's score against the LLM tokens one item becomes."""

    modality: str = Field("video", description="whose tokens per item go on the x axis")
    metric: str | None = Field(None, description="metric key on the y axis (default: the first metric)")


class Sweep(StrictModel):
    """A whole sweep file."""

    name: str = Field(description="sweep name (output folder and chart title)")
    base: str = Field(description="base recipe, relative to the sweep file")
    seeds: list[int] = Field([0, 1, 2], min_length=1, description="each variant is trained once per seed")
    variants: dict[str, VariantSpec] = Field(min_length=1, description="variant name -> recipe and overrides")
    overrides: list[str] = Field(default_factory=list, description="KEY=VALUE overrides for every variant")
    data: DataStep = Field(default_factory=DataStep, description="data preparation before the first run")
    eval: EvalSpec = Field(default_factory=EvalSpec, description="evaluation of each trained run")
    metrics: list[MetricSpec] | None = Field(
        None, description="scores to tabulate, each a key or {key, label}; default: each set's headline"
    )
    output: str | None = Field(None, description="sweep folder (default: runs/ablations/<name>)")
    tokens_chart: TokensChart | None = Field(
        None, description="also chart the score against visual tokens per item (variants with series)"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"name {value!r}: {_NAME_RULE}")
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError(f"seeds {value} repeat a seed")
        if any(s < 0 for s in value):
            raise ValueError(f"seeds {value}: seeds must be >= 0")
        return value

    @field_validator("metrics", mode="before")
    @classmethod
    def _plain_keys(cls, value: object) -> object:
        if isinstance(value, list):
            return [{"key": m} if isinstance(m, str) else m for m in value]
        return value

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, value: dict[str, VariantSpec]) -> dict[str, VariantSpec]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"variant name {name!r}: {_NAME_RULE}")
        return value

    def output_dir(self) -> Path:
        """Where runs and results go."""
        return Path(self.output) if self.output else Path("runs") / "ablations" / self.name


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; every problem is one `SweepError` naming the file and field."""
    path = Path(path)
    data = read_yaml_mapping(path, kind="sweep", error=SweepError)
    try:
        return Sweep.model_validate(data)
    except ValidationError as exc:
        raise SweepError(f"{path}: invalid sweep: {format_validation_error(exc)}") from None
