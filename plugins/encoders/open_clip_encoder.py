"""open_clip_encoder.py

The ``clip`` encoder: an OpenCLIP vision tower (``ViT-L-14``, ``ViT-B-16``, ...) chosen by model name,
tokens taken from one transformer block (``forward_intermediates``).

- ``select_layer`` follows transformers' ``hidden_states`` convention, as ``clip_vision`` does: ``-2`` is the
  output of the second-to-last block (OpenCLIP block 22 of 24 for ViT-L/14), ``k > 0`` the output of the
  ``k``-th block; ``0`` (the embeddings) is not offered. A list concatenates several blocks' features.
- Images: ``(N, 3, S, S) -> (N, P[+1], D)``. Videos are encoded frame by frame and their tokens joined
  frame-major: ``(N, T, 3, S, S) -> (N, T * (P[+1]), D)``. ``keep_cls`` None: dropped for images, kept for
  videos (Video-LLaVA's choice).
- ``chunk_frames: k`` encodes at most k frames (or images) per tower call and joins the results (same
  output, bounded memory for long videos); None or 0: all at once. These options and the frame loop come
  from `frame_encoder`.
- Weights come from a local file only (safetensors or a torch state dict of the full CLIP model or of its
  visual tower), loaded strictly; ``weights: null`` builds random weights offline. Nothing is downloaded.
- Only the visual tower is built for real: the text tower is replaced by a one-layer placeholder and
  dropped, so ``text_cfg`` in ``config`` has no effect.
- ``config`` is deep-merged into the named model's config by the recipes' rules (`mmbind.deep_merge`:
  mappings key by key, ``null`` over a mapping removes it). A tiny tower for tests:
  ``{model: ViT-L-14, config: {embed_dim: 32, vision_cfg: {image_size: 28, layers: 3, width: 64,
  head_width: 32, patch_size: 14}}}``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.transformer import VisionTransformer
from pydantic import field_validator

from mmbind import EncoderEntry, PluginOptionsError, deep_merge, hookimpl
from mmbind.interfaces import BuildContext
from mmbind.interfaces.encoder_helpers import (
    block_index,
    is_temporal,
    layer_list,
    read_json_artifact,
    write_json_artifact,
)
from mmbind.media import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
from mmbind.weightfiles import load_strict, read_state_dict, strip_ddp_prefix, strip_prefix
from mmbind_plugins.encoders.frame_encoder import FrameEncoder, FrameOptions
from mmbind_plugins.hf_config import check_sizes

ARTIFACT = "open_clip_encoder.json"
# The text tower is discarded, so it is built as small as OpenCLIP allows (and never from the hub).
_PLACEHOLDER_TEXT = {"context_length": 2, "vocab_size": 2, "width": 8, "heads": 1, "layers": 1}


class OpenClipOptions(FrameOptions):
    """Options of the ``clip`` encoder."""

    model: str = "ViT-L-14"  # built-in OpenCLIP model name (open_clip.list_models()); no hf-hub:/local-dir:
    config: dict[str, Any] = {}  # deep-merged into the model's config (embed_dim, vision_cfg, ...)

    @field_validator("config")
    @classmethod
    def _positive_sizes(cls, config: dict[str, Any]) -> dict[str, Any]:
        """Widths, depths and head counts are positive (a recipe error naming config.<key>)."""
        check_sizes(config)
        return config
    weights: str | None = None  # local state-dict file (full CLIP or visual tower); None: random init


class OpenClipEncoder(FrameEncoder):
    """An OpenCLIP ViT tower for images, or applied frame by frame for videos."""

    visual: VisionTransformer

    def __init__(
        self,
        visual: VisionTransformer,
        name: str,
        cfg: dict[str, Any],
        options: OpenClipOptions,
        modality: str,
        temporal: bool = False,
    ) -> None:
        num_blocks = len(visual.transformer.resblocks)
        blocks = [_block_index(layer, num_blocks) for layer in layer_list(options.select_layer)]
        super().__init__(options, modality, temporal, blocks, visual=visual)
        self.model_name = name
        self.model_cfg = cfg  # the resolved config (text_cfg excluded), saved as an artifact

    @property
    def image_size(self) -> int:
        return int(self.visual.image_size[0])

    @property
    def layer_width(self) -> int:
        return int(self.visual.transformer.width)

    def patch_grid(self) -> tuple[int, int]:
        rows, cols = self.visual.grid_size
        return int(rows), int(cols)

    def transform_fields(self) -> dict[str, Any]:
        return dict(
            interpolation="bicubic",
            mean=tuple(getattr(self.visual, "image_mean", None) or OPENAI_CLIP_MEAN),
            std=tuple(getattr(self.visual, "image_std", None) or OPENAI_CLIP_STD),
        )

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """``(F, 3, S, S)`` images / frames to their tokens ``(F, P[+1], D * len(select_layer))``."""
        taken = sorted(set(self.layers))
        out = self.visual.forward_intermediates(
            frames.to(self.visual.conv1.weight.dtype), indices=taken, stop_early=True,
            intermediates_only=True, output_fmt="NLC", output_extra_tokens=self.keep_cls,
        )
        feats = out["image_intermediates"]
        if self.keep_cls:
            prefixes = out["image_intermediates_prefix"]
            feats = [torch.cat([cls, patches], dim=1) for cls, patches in zip(prefixes, feats)]
        return torch.cat([feats[taken.index(block)] for block in self.layers], dim=-1)

    def save_artifacts(self, directory: Path) -> None:
        spec = {"model": self.model_name, "model_cfg": self.model_cfg}
        write_json_artifact(directory, ARTIFACT, spec)


def _block_index(layer: int, num_blocks: int) -> int:
    """hidden_states-style index (``-1`` last block, ``k > 0`` the k-th block) -> 0-based block index."""
    return block_index("clip", layer, num_blocks)


def resolve_config(name: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The built-in config of ``name`` with ``overrides`` deep-merged in (text tower keys dropped)."""
    if ":" in name:
        raise PluginOptionsError(
            f"clip: options.model '{name}': hub and directory schemas are not supported; "
            "name a built-in model and give a local file in options.weights"
        )
    base = open_clip.get_model_config(name)
    if base is None:
        close = difflib.get_close_matches(name, open_clip.list_models(), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else "; see open_clip.list_models()"
        raise PluginOptionsError(f"clip: options.model '{name}' is not an OpenCLIP model{hint}")
    cfg = deep_merge(base, overrides)
    for key in ("text_cfg", "custom_text"):
        cfg.pop(key, None)
    return cfg


def create_visual(name: str, cfg: dict[str, Any]) -> VisionTransformer:
    """Build ``name`` with ``cfg`` at random init, offline, and return only its visual tower."""
    try:
        model = open_clip.create_model(
            name, pretrained=None, pretrained_image=False, pretrained_text=False, **cfg,
            text_cfg=dict(_PLACEHOLDER_TEXT),
        )
    except (TypeError, ValueError, KeyError, AssertionError) as exc:
        raise PluginOptionsError(f"clip: options.config does not build '{name}': {exc}") from None
    visual = model.visual
    if not isinstance(visual, VisionTransformer):
        raise PluginOptionsError(
            f"clip: '{name}' has a {type(visual).__name__} image tower; "
            "only OpenCLIP ViT towers are supported"
        )
    if visual.image_size[0] != visual.image_size[1]:
        raise PluginOptionsError(f"clip: '{name}' has a non-square image size {visual.image_size}")
    return visual


def load_visual_weights(visual: VisionTransformer, path: str) -> None:
    """Strictly load a full-CLIP or visual-tower state dict from the local file ``path``."""
    state = strip_ddp_prefix(read_state_dict(path))
    if any(key.startswith("visual.") for key in state):  # a full CLIP model: keep its visual tower
        state = strip_prefix(state, "visual.")
    load_strict(visual, state, where=f"clip: {path}")


def build(options: OpenClipOptions, context: BuildContext) -> OpenClipEncoder:
    """Factory registered as ``clip``."""
    if context.artifacts_dir is not None:
        spec = read_json_artifact(context.artifacts_dir, ARTIFACT, "clip")
        name, cfg = spec["model"], spec["model_cfg"]
    else:
        name, cfg = options.model, resolve_config(options.model, options.config)
    visual = create_visual(name, cfg)
    if options.weights is not None and context.load_weights and not context.restoring:
        load_visual_weights(visual, options.weights)
    temporal = is_temporal(options.temporal, context)
    return OpenClipEncoder(visual, name, cfg, options, context.modality or "image", temporal)


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            "clip", OpenClipOptions, build, ("image", "video"),
            "OpenCLIP ViT vision tower by model name; videos frame by frame",
        )
    ]
