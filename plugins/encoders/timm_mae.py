"""timm_mae.py

The ``mae`` encoder: a timm ViT, by default a masked-autoencoder encoder (``vit_base_patch16_224.mae``,
``vit_large_patch16_224.mae``, ``vit_huge_patch14_224.mae``), tokens from one block
(``forward_intermediates``).

- ``select_layer`` uses the same convention as ``clip`` / ``clip_vision`` (transformers' ``hidden_states``):
  ``-2`` is the output of the second-to-last block (timm's ``blocks[-2]``), ``k > 0`` the output of the
  ``k``-th block; a list concatenates several blocks. Intermediates are taken before the final norm.
- Images: ``(N, 3, S, S) -> (N, P[+1], D)``; videos frame by frame, frame-major:
  ``(N, T, 3, S, S) -> (N, T * (P[+1]), D)``. ``keep_cls`` prepends the CLS token of each frame.
- ``chunk_frames: k`` encodes at most k frames (or images) per forward call and joins the results (same
  output, bounded memory for long videos); None or 0: all at once. Masked encoding is not chunked. These
  options and the frame loop come from `frame_encoder`.
- Preprocessing from the model's pretrained config: ImageNet mean/std, bicubic, resize to
  ``int(S / crop_pct)`` (``crop_pct`` 0.9) then centre crop ``S``.
- Weights from a local file only (timm state dict, or the original MAE ``.pth`` with its ``"model"``
  wrapper), loaded strictly; the decoder of a pretraining checkpoint (``decoder_*``, ``mask_token``) is
  dropped first. ``weights: null`` builds random weights offline; nothing is downloaded.
- Masked encoding (`Encoder.masked_encode`, for ``kind: mae`` pre-training) of images at a fixed size: see
  `timm_masked`.
- A tiny tower for tests: ``{config: {img_size: 32, embed_dim: 64, depth: 3, num_heads: 2}}``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import timm
import torch
from pydantic import field_validator
from timm.models.vision_transformer import VisionTransformer

from mmbind import EncoderEntry, PluginOptionsError, RecipeError, hookimpl
from mmbind.interfaces import BuildContext, PatchGrid
from mmbind.interfaces.encoder_helpers import (
    block_index,
    is_temporal,
    layer_list,
    read_json_artifact,
    write_json_artifact,
)
from mmbind.media import IMAGENET_MEAN, IMAGENET_STD
from mmbind.weightfiles import load_strict, read_state_dict, strip_ddp_prefix
from mmbind_plugins.encoders.frame_encoder import FrameEncoder, FrameOptions
from mmbind_plugins.hf_config import check_sizes

from .timm_masked import encode_visible

ARTIFACT = "timm_mae.json"
DECODER_PREFIXES = ("decoder_", "mask_token")  # MAE pretraining-only parameters, not part of the encoder
_WEIGHT_KEYS = ("pretrained", "pretrained_cfg", "pretrained_cfg_overlay", "checkpoint_path", "cache_dir")


class MaeOptions(FrameOptions):
    """Options of the ``mae`` encoder."""

    model: str = "vit_large_patch16_224.mae"  # timm model name (with its pretrained tag)
    config: dict[str, Any] = {}  # keyword overrides for timm.create_model (img_size, embed_dim, depth, ...)

    @field_validator("config")
    @classmethod
    def _positive_sizes(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Widths, depths and head counts are positive (a recipe error naming config.<key>)."""
        check_sizes(config)
        return config
    weights: str | None = None  # local state-dict file (timm or original MAE .pth); None: random init
    keep_cls: bool = False  # prepend each frame's CLS token


class MaeEncoder(FrameEncoder):
    """A timm ViT for images, or applied frame by frame for videos."""

    vit: VisionTransformer

    def __init__(
        self, vit: VisionTransformer, name: str, overrides: dict[str, Any], options: MaeOptions,
        modality: str, temporal: bool = False,
    ) -> None:
        layers = layer_list(options.select_layer)
        blocks = [block_index("mae", layer, len(vit.blocks), holder="model") for layer in layers]
        if options.keep_cls and not vit.has_class_token:
            raise PluginOptionsError(f"mae: options.keep_cls: '{name}' has no class token")
        super().__init__(options, modality, temporal, blocks, vit=vit)
        self.model_name = name
        self.overrides = overrides  # timm.create_model keyword overrides, saved as an artifact

    @property
    def image_size(self) -> int:
        return int(self.vit.patch_embed.img_size[0])

    @property
    def layer_width(self) -> int:
        return int(self.vit.embed_dim)

    def patch_grid(self) -> tuple[int, int]:
        rows, cols = self.vit.patch_embed.grid_size
        return int(rows), int(cols)

    def transform_fields(self) -> dict[str, Any]:
        cfg = self.vit.pretrained_cfg or {}
        return dict(
            mean=tuple(cfg.get("mean", IMAGENET_MEAN)), std=tuple(cfg.get("std", IMAGENET_STD)),
            interpolation=cfg.get("interpolation", "bicubic"), crop_pct=float(cfg.get("crop_pct") or 1.0),
            crop_offset="round",  # timm / torchvision centre the crop with round(), HF with floor()
        )

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """``(F, 3, S, S)`` images / frames to their tokens ``(F, P[+1], D * len(select_layer))``."""
        taken = sorted(set(self.layers))
        out = self.vit.forward_intermediates(
            frames.to(self.vit.patch_embed.proj.weight.dtype), indices=taken,
            return_prefix_tokens=self.keep_cls, stop_early=True, output_fmt="NLC", intermediates_only=True,
        )
        if self.keep_cls:  # (patches, prefix) pairs; the class token is the first prefix token
            out = [torch.cat([prefix[:, :1], patches], dim=1) for patches, prefix in out]
        return torch.cat([out[taken.index(block)] for block in self.layers], dim=-1)

    def masked_patch_grid(self) -> PatchGrid:
        if self.video:
            raise RecipeError(f"encoder mae ({self.modality}) reads videos; masked encoding needs images")
        if getattr(self.vit, "dynamic_img_size", False):
            raise RecipeError(
                "encoder mae: masked encoding needs a fixed image size (config.dynamic_img_size)"
            )
        embed = self.vit.patch_embed
        return PatchGrid(int(embed.patch_size[0]), int(embed.num_patches), self.vit.num_prefix_tokens,
                         self.vit.embed_dim)

    def masked_encode(self, pixels: torch.Tensor, keep_ids: torch.Tensor) -> torch.Tensor:
        return encode_visible(self.vit, pixels.to(self.vit.patch_embed.proj.weight.dtype), keep_ids)

    def save_artifacts(self, directory: Path) -> None:
        spec = {"model": self.model_name, "config": self.overrides}
        write_json_artifact(directory, ARTIFACT, spec)


def create_vit(name: str, overrides: dict[str, Any]) -> VisionTransformer:
    """``timm.create_model(name, pretrained=False, **overrides)``, checked to be a timm ViT."""
    reserved = sorted(set(overrides) & set(_WEIGHT_KEYS))
    if reserved:
        raise PluginOptionsError(f"mae: options.config.{reserved[0]}: weights come from options.weights only")
    tagged = "." in name  # "architecture.tag": the tag picks the pretrained config (mean, std, crop_pct)
    if not timm.is_model(name) or (tagged and name not in timm.list_pretrained()):
        known = timm.list_pretrained() + timm.list_models()
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; see timm.list_models()"
        raise PluginOptionsError(f"mae: options.model '{name}' is not a timm model{hint}")
    try:
        model = timm.create_model(name, pretrained=False, **overrides)
    except (TypeError, ValueError, RuntimeError, AssertionError) as exc:
        raise PluginOptionsError(f"mae: options.model '{name}' / options.config: {exc}") from None
    if not isinstance(model, VisionTransformer):
        kind = type(model).__name__
        raise PluginOptionsError(f"mae: '{name}' is a {kind}; only timm VisionTransformers are supported")
    return model


def load_vit_weights(vit: VisionTransformer, path: str) -> None:
    """Strictly load a local timm / MAE state dict, dropping an MAE pretraining decoder first."""
    state = strip_ddp_prefix(read_state_dict(path))
    state = {key: value for key, value in state.items() if not key.startswith(DECODER_PREFIXES)}
    load_strict(vit, state, where=f"mae: {path}")


def build(options: MaeOptions, context: BuildContext) -> MaeEncoder:
    """Factory registered as ``mae``."""
    if context.artifacts_dir is not None:
        spec = read_json_artifact(context.artifacts_dir, ARTIFACT, "mae")
        name, overrides = spec["model"], spec["config"]
    else:
        name, overrides = options.model, dict(options.config)
    vit = create_vit(name, overrides)
    if options.weights is not None and context.load_weights and not context.restoring:
        load_vit_weights(vit, options.weights)
    temporal = is_temporal(options.temporal, context)
    return MaeEncoder(vit, name, overrides, options, context.modality or "image", temporal)


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            "mae", MaeOptions, build, ("image", "video"),
            "timm ViT (MAE encoders by default); videos frame by frame",
        )
    ]
