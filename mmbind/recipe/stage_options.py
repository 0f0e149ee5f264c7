"""stage_options.py

Options of the built-in stage kinds that take options (a stage's ``options:`` mapping, see `StageSpec.kind`;
the kinds themselves are plugins, `mmbind.train.builtin_kinds`):

- ``align``: LanguageBind-style contrastive alignment of one encoder to a text encoder (`AlignOptions`);
- ``mae``: masked-autoencoder pre-training of a timm ViT encoder (`MaeStageOptions`);
- ``dpo``: direct preference optimisation of the model on preference pairs (`DpoOptions`).

`stage_checks` cross-checks the encoder kinds against the rest of the recipe.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from mmbind.interfaces.model_sizes import first_size_problem
from mmbind.recipe.strict import StrictModel

TEXT_DEFAULTS: dict[str, Any] = {  # the toy text tower (transformers CLIPTextConfig fields)
    "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "max_position_embeddings": 64,
}


@functools.lru_cache(maxsize=1)
def _text_fields() -> frozenset[str]:
    from transformers import CLIPTextConfig

    return frozenset(CLIPTextConfig().to_dict())


class TextEncoderSpec(StrictModel):
    """The text side of an ``align`` stage: a transformers CLIPTextModel plus a linear projection."""

    train: bool = Field(True, description="train it jointly (image stage) or keep it frozen (video stage)")
    init_from: str | None = Field(None, description="an earlier align stage whose text encoder is loaded")
    config: dict[str, Any] = Field(
        default_factory=dict, description="CLIPTextConfig fields over TEXT_DEFAULTS"
    )

    @field_validator("config")
    @classmethod
    def _known(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - _text_fields())
        if unknown:
            raise ValueError(f"unknown CLIPTextConfig field(s) {', '.join(unknown)}")
        found = first_size_problem(value)
        if found is not None:
            raise ValueError(f"{'.'.join(found[0])}: {found[1]} (got {value[found[0][0]]!r})")
        return value

    @model_validator(mode="after")
    def _frozen_needs_weights(self) -> TextEncoderSpec:
        if not self.train and self.init_from is None:
            raise ValueError("train: false needs init_from (a frozen random text encoder aligns nothing)")
        if self.init_from is not None and self.config:
            raise ValueError("config is taken from init_from's saved text encoder; leave config empty")
        return self


class StandaloneEncoderSpec(StrictModel):
    """An encoder built from a plugin, outside the model (see `AlignOptions.encoder`)."""

    plugin: str = Field(description="registered encoder plugin")
    options: dict[str, Any] = Field(default_factory=dict, description="validated by the plugin's Options")


class AlignOptions(StrictModel):
    """``kind: align``: CLIP loss between one encoder's pooled tokens and a text encoder's captions."""

    modality: str = Field(description="the model's encoder to align (image, video, ...)")
    text_encoder: TextEncoderSpec = Field(default_factory=TextEncoderSpec, description="the text side")
    init_from_encoder: str | None = Field(
        None, description="copy weights from the model's encoder of this modality, or from the stand-alone "
        "encoder of this earlier align stage (video tower: spatial copied, temporal from spatial)",
    )
    encoder: StandaloneEncoderSpec | None = Field(
        None, description="align a stand-alone encoder built from this spec instead of the model's (saved "
        "under stages/<name>/encoder/; e.g. the image tower a separated baseline's video encoder "
        "starts from)",
    )
    embed_dim: int = Field(32, ge=1, description="width of the shared space (a loaded text encoder's own)")
    pool: Literal["mean", "cls"] = Field("mean", description="mean over tokens, or CLS (encoder keeps CLS)")
    logit_scale: float = Field(
        2.6592600369327779, allow_inf_nan=False, description="initial log logit scale: log(1/0.07)"
    )
    max_logit_scale: float = Field(
        100.0, gt=0, allow_inf_nan=False, description="the scale exp(logit_scale) is clamped to this"
    )
    cache_media: bool = Field(False, description="keep preprocessed pixels in RAM across epochs (small data)")
    eval_pairs: int = Field(512, ge=0, description="training pairs scored for retrieval at the end (0: none)")


class MaeDecoderSpec(StrictModel):
    """MAE's light decoder (saved next to the model, not in it)."""

    width: int = Field(32, ge=1, description="decoder width")
    depth: int = Field(1, ge=1, le=8, description="transformer blocks")
    heads: int = Field(4, ge=1, description="attention heads (must divide width)")
    mlp_ratio: float = Field(2.0, gt=0, allow_inf_nan=False, description="MLP hidden width / width")


class MaeStageOptions(StrictModel):
    """``kind: mae``: masked-autoencoder pre-training of the model's timm ViT encoder (``mae`` plugin)."""

    modality: str = Field(description="the model's encoder to pre-train (an image encoder)")
    mask_ratio: float = Field(0.75, gt=0, lt=1, description="share of patches hidden from the encoder")
    decoder: MaeDecoderSpec = Field(default_factory=MaeDecoderSpec, description="the reconstruction decoder")
    norm_pix_loss: bool = Field(True, description="targets normalised per patch (MAE's default)")
    cache_media: bool = Field(False, description="keep preprocessed pixels in RAM across epochs (small data)")



class DpoOptions(StrictModel):
    """``kind: dpo``: direct preference optimisation (Rafailov et al. 2023) as TRL's ``DPOTrainer`` defines
    it."""

    beta: float = Field(0.1, gt=0, allow_inf_nan=False,
                        description="strength of the pull to the reference (IPO: its tau)")
    loss: Literal["sigmoid", "ipo"] = Field(
        "sigmoid",
        description="sigmoid: the DPO paper's loss; ipo: IPO's squared loss on per-token log-ratios",
    )
    label_smoothing: float = Field(
        0.0, ge=0, lt=0.5, description="probability that a preference label is flipped (robust DPO, TRL's "
        "'robust' loss; sigmoid only)",
    )
    nll_weight: float | None = Field(
        None, ge=0, allow_inf_nan=False,
        description="weight of the chosen answers' NLL added to the loss (RPO; TRL's rpo_alpha)",
    )
    reference: Literal["copy", "precomputed"] = Field(
        "copy",
        description="copy: a frozen copy of the stage's starting model; precomputed: its log-probabilities "
        "scored once before the stage into the run folder (with LoRA the reference is the model with its "
        "adapters disabled)",
    )

    @model_validator(mode="after")
    def _smoothing_is_sigmoid(self) -> DpoOptions:
        if self.label_smoothing and self.loss != "sigmoid":
            raise ValueError("label_smoothing applies to loss sigmoid (robust DPO), not to ipo")
        return self
