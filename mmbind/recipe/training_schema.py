"""training_schema.py

The recipe's training sections: ``data:`` (datasets, each a weighted mix of LLaVA-format JSON files or of
shard folders written by ``mmbind data shard``, and how media are loaded) and ``stages:`` (an ordered
mapping of training stages, run in order, each starting from the previous one's weights). Defaults are
Video-LLaVA's (stage 1: projector only, lr 1e-3, batch 256; stage 2: projector + LLM, lr 2e-5, batch 128;
AdamW, warmup 0.03, weight decay 0, cosine, one epoch).
Paths are relative to the working directory, as in Video-LLaVA's scripts.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mmbind.errors import RecipeError
from mmbind.interfaces.lora_spec import LoraSpec
from mmbind.recipe.byte_sizes import parse_size
from mmbind.recipe.stage_kinds import kind_entry, registry_of, validate_kind_options
from mmbind.recipe.strict import StrictModel

MAX_SEED = 2**32 - 1  # numpy's and most samplers' range; torch's generators take it too
_PART = re.compile(r"^(projector|llm|encoders|encoder:[A-Za-z_]\w*|projector:[A-Za-z_]\w*)$")


def _unset(value: Any) -> bool:
    """Fields left out of a recipe's dump when unset, so that recipes (and run locks) written before the
    field existed read the same."""
    return value is None


class DataFileSpec(StrictModel):
    """One LLaVA-format JSON file and where its media live, or the shards `mmbind data shard` wrote."""

    path: str | None = Field(
        None, exclude_if=_unset,
        description="JSON file: a list of {id, image|video|<modality>, conversations}",
    )
    shards: str | None = Field(
        None, exclude_if=_unset,
        description="instead of path: a folder or URL (https://, s3://, file://...) of shards written by "
                    "`mmbind data shard` (its index.json)",
    )
    weight: float = Field(
        1.0, ge=0, allow_inf_nan=False,
        description="samples per epoch = weight x file length (fraction: subset)",
    )
    image_root: str | None = Field(
        None, description="prefix for relative image paths (default: the file's dir)"
    )
    video_root: str | None = Field(
        None, description="prefix for relative video paths (default: the file's dir)"
    )
    media_roots: dict[str, str] = Field(
        default_factory=dict, description="data key -> prefix of its relative paths (any modality)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> DataFileSpec:
        if (self.path is None) == (self.shards is None):
            raise ValueError("give exactly one of 'path' (a JSON file) and 'shards' (a folder or URL of "
                             "shards written by mmbind data shard)")
        if self.shards is not None and (self.image_root or self.video_root or self.media_roots):
            raise ValueError("image_root / video_root / media_roots apply to 'path' files; shards hold "
                             "their media")
        return self

    def roots(self) -> dict[str, str | None]:
        """Data key -> prefix of relative paths (``image_root`` / ``video_root`` are shortcuts)."""
        return {"image": self.image_root, "video": self.video_root, **self.media_roots}


class DatasetSpec(StrictModel):
    """A named dataset: a weighted mix of files rendered with one conversation template."""

    files: list[DataFileSpec] = Field(min_length=1, description="files mixed into one epoch")
    template: Literal["plain", "vicuna_v1"] = Field("vicuna_v1", description="conversation template")
    modalities: list[str] | None = Field(
        None, description="lm stages keep only samples whose media are all of these, and text-only ones"
    )
    drop_media: list[str] = Field(
        default_factory=list,
        description="data keys removed from every sample with their tags (e.g. [depth]: the same questions "
                    "without the depth maps, for an image-only baseline)",
    )


class FeatureCacheSpec(StrictModel):
    """On-disk cache of frozen encoders' outputs."""

    enabled: bool = Field(False, description="cache frozen encoders' outputs (bf16) across epochs and runs")
    dir: str = Field(".mmbind_cache/features", description="cache directory, shared by runs")


class ShardCacheSpec(StrictModel):
    """Where shards read from URLs (and the media of every shard read) are kept, least recently used
    evicted first."""

    dir: str = Field(".mmbind_cache/shards", description="cache directory, shared by runs")
    max_bytes: int = Field(
        20 * 10**9, gt=0, description="bytes the cache may hold (a number or a size such as 20GB, 512MiB)"
    )

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        return parse_size(value) if isinstance(value, str) else value


class DataSpec(StrictModel):
    """Datasets by name plus how samples are loaded."""

    datasets: dict[str, DatasetSpec] = Field(description="name -> dataset; a stage names the one it uses")
    video_frames: int = Field(8, ge=1, description="frames sampled uniformly per video (Video-LLaVA: 8)")
    video_backend: Literal["auto", "pyav", "decord"] = Field("auto", description="video decoder")
    media: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="data key -> options of its media loader (frames / backend of temporal loaders default "
                    "to video_frames / video_backend)",
    )
    max_images: int = Field(16, ge=1, description="images kept per sample (Video-LLaVA: 16)")
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes")
    on_bad_sample: Literal["skip", "fail"] = Field("skip", description="skip and count, or stop the run")
    feature_cache: FeatureCacheSpec = Field(default_factory=FeatureCacheSpec, description="frozen features")
    shard_cache: ShardCacheSpec | None = Field(
        None, exclude_if=_unset,
        description="cache of the shards datasets read (default: dir .mmbind_cache/shards, max_bytes 20GB)",
    )

    def shard_cache_spec(self) -> ShardCacheSpec:
        """``shard_cache``, or its defaults when the recipe leaves it out."""
        return self.shard_cache or ShardCacheSpec()

    def dataset_for(self, stage_name: str, dataset: str | None) -> DatasetSpec:
        """The dataset a stage reads: ``dataset``, else the one named like the stage (`RecipeError` if
        none)."""
        name = dataset or stage_name
        if name not in self.datasets:
            known = ", ".join(self.datasets) or "none"
            raise RecipeError(
                f"stages.{stage_name}.dataset: no dataset {name!r} in data.datasets (known: {known})"
            )
        return self.datasets[name]


class StageSpec(StrictModel):
    """One training stage."""

    kind: str = Field(
        "lm", pattern=r"^[A-Za-z_][\w.-]*$",
        description="a stage kind contributed by a plugin (mmbind_stage_kinds): lm (language-model "
                    "training), dpo (preference optimisation), align / mae (encoder pre-training), ...",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="options of the stage's kind")
    dataset: str | None = Field(None, description="key in data.datasets; default: the stage's own name")
    train: list[str] = Field(["projector"], min_length=1, description="parts trained; the rest is frozen")
    lr: float | dict[str, float] = Field(1e-3, description="learning rate, or one per trained part")
    epochs: float = Field(
        1.0, gt=0, allow_inf_nan=False, description="passes over the dataset (ignored when max_steps is set)"
    )
    max_steps: int | None = Field(None, ge=1, description="optimizer steps; overrides epochs")
    global_batch: int = Field(256, ge=1, description="samples per optimizer step over all ranks")
    per_device_batch: int = Field(32, ge=1, description="samples per forward pass on one rank")
    grad_accum: int | None = Field(None, ge=1, description="checked against global/(per_device x ranks)")
    warmup_ratio: float = Field(0.03, ge=0, le=1, description="share of steps with linear warm-up")
    scheduler: Literal["cosine", "linear", "constant_with_warmup"] = Field("cosine", description="lr decay")
    weight_decay: float = Field(
        0.0, ge=0, allow_inf_nan=False, description="AdamW weight decay (not on biases and norms)"
    )
    adam_betas: tuple[float, float] = Field((0.9, 0.999), description="AdamW betas")
    adam_eps: float = Field(1e-8, gt=0, allow_inf_nan=False, description="AdamW epsilon")
    max_grad_norm: float | None = Field(
        1.0, gt=0, allow_inf_nan=False, description="gradient clipping; null disables it"
    )
    max_length: int = Field(2048, ge=8, description="tokens per sample after media expansion")
    precision: Literal["auto", "fp32", "bf16_mixed", "bf16"] = Field(
        "auto", description="auto: bf16 autocast on GPU, fp32 on CPU; bf16: bf16 parameters"
    )
    gradient_checkpointing: bool = Field(False, description="recompute LLM activations in backward")
    packing: bool = Field(False, description="concatenate a micro-batch into one row, no padding")
    group_by_modality_length: bool = Field(False, description="batches of one modality, similar lengths")
    strategy: Literal["auto", "ddp", "fsdp", "fsdp_zero2"] = Field(
        "auto",
        description="multi-rank wrapping: ddp, fsdp (ZeRO-3-like), fsdp_zero2 (ZeRO-2-like); auto: ddp",
    )
    lora: LoraSpec | None = Field(None, description="LoRA on the LLM instead of full fine-tuning")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of data order, augmentation and dropout")
    save_every_steps: int | None = Field(None, ge=1, description="checkpoint interval (also at stage end)")
    keep_last: int = Field(2, ge=1, description="checkpoints kept")
    log_every_steps: int = Field(1, ge=1, description="metrics interval")
    init_from: str | None = Field(
        None, description="mmbind model dir to start from (default: previous stage)"
    )

    @field_validator("train")
    @classmethod
    def _known_parts(cls, value: list[str]) -> list[str]:
        for part in value:
            if not _PART.match(part):
                raise ValueError(
                    f"unknown part {part!r}; use projector, llm, encoders, encoder:<modality>, "
                    "projector:<modality>"
                )
        return value

    @field_validator("lr")
    @classmethod
    def _positive_lr(cls, value: float | dict[str, float]) -> float | dict[str, float]:
        for rate in value.values() if isinstance(value, dict) else (value,):
            if not (math.isfinite(rate) and rate > 0):
                raise ValueError("learning rates must be finite and > 0")
        return value

    @field_validator("adam_betas")
    @classmethod
    def _betas_in_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not all(0 <= beta < 1 for beta in value):
            raise ValueError("AdamW betas must lie in [0, 1)")
        return value

    @field_validator("kind")
    @classmethod
    def _installed_kind(cls, value: str, info: ValidationInfo) -> str:
        kind_entry(value, registry_of(info.context))
        return value

    @model_validator(mode="after")
    def _kind_options(self, info: ValidationInfo) -> StageSpec:
        """The kind's options validated (normalised to their full form) and the stage settled by its kind
        (`StageKindEntry.settle`); the registry is the validation context's, else the installed one."""
        registry = registry_of(info.context)
        entry = kind_entry(self.kind, registry)
        typed = validate_kind_options(entry, self.options, registry)
        if typed is not None:
            self.options = typed.model_dump(mode="json")
        if entry.settle is not None:
            entry.settle(self, typed)
        return self

    def kind_options(self, registry: Any = None) -> Any:
        """The typed options of the stage's kind (None for a kind without options)."""
        entry = kind_entry(self.kind, registry_of({"registry": registry}))
        return None if entry.options is None else entry.options.model_validate(self.options)

    @model_validator(mode="after")
    def _lr_parts(self) -> StageSpec:
        if isinstance(self.lr, dict):
            missing = [p for p in self.train if p not in self.lr]
            extra = [p for p in self.lr if p not in self.train]
            if missing or extra:
                raise ValueError(
                    f"lr per part must name exactly the trained parts {self.train}, got {list(self.lr)}"
                )
        if self.global_batch % self.per_device_batch:
            raise ValueError(
                f"global_batch {self.global_batch} is not a multiple of "
                f"per_device_batch {self.per_device_batch}"
            )
        return self

    def lr_for(self, part: str) -> float:
        """Learning rate of one trained part."""
        return self.lr[part] if isinstance(self.lr, dict) else self.lr


def video_llava_stages() -> dict[str, StageSpec]:
    """Video-LLaVA's two stages (without datasets: they default to datasets named like the stages)."""
    return {
        "pretrain": StageSpec(train=["projector"], lr=1e-3, global_batch=256, per_device_batch=32),
        "finetune": StageSpec(train=["projector", "llm"], lr=2e-5, global_batch=128, per_device_batch=16),
    }
