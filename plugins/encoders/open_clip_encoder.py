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
  output, bounded memory for long videos); None or 0: all at once.
- Weights come from a local file only (safetensors or a torch state dict of the full CLIP model or of its
  visual tower), loaded strictly; ``weights: null`` builds random weights offline. Nothing is downloaded.
- Only the visual tower is built for real: the text tower is replaced by a one-layer placeholder and
  dropped, so ``text_cfg`` in ``config`` has no effect.
- ``config`` is deep-merged into the named model's config. A tiny tower for tests:
  ``{model: ViT-L-14, config: {embed_dim: 32, vision_cfg: {image_size: 28, layers: 3, width: 64,
  head_width: 32, patch_size: 14}}}``.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import open_clip
import torch
from open_clip.transformer import VisionTransformer
from pydantic import Field

from mmbind import EncoderEntry, PluginOptionsError, hookimpl
from mmbind.interfaces import BuildContext, Encoder, TokenLayout
from mmbind.interfaces.encoder_helpers import (
    CHUNK_FRAMES_DOC,
    block_index,
    flatten_frames,
    frame_major,
    in_chunks,
    is_temporal,
    layer_list,
    pixel_shape,
    pixel_transform,
    read_json_artifact,
    token_count,
    write_json_artifact,
)
from mmbind.media import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
from mmbind.recipe.strict import StrictModel
from mmbind.weightfiles import load_strict, read_state_dict, strip_ddp_prefix, strip_prefix

ARTIFACT = "open_clip_encoder.json"
# The text tower is discarded, so it is built as small as OpenCLIP allows (and never from the hub).
_PLACEHOLDER_TEXT = {"context_length": 2, "vocab_size": 2, "width": 8, "heads": 1, "layers": 1}


class OpenClipOptions(StrictModel):
    """Options of the ``clip`` encoder."""

    model: str = "ViT-L-14"  # built-in OpenCLIP model name (open_clip.list_models()); no hf-hub:/local-dir:
    config: dict[str, Any] = {}  # deep-merged into the model's config (embed_dim, vision_cfg, ...)
    weights: str | None = None  # local state-dict file (full CLIP or visual tower); None: random init
    select_layer: int | list[int] = -2  # hidden_states-style block index; a list concatenates blocks
    keep_cls: bool | None = None  # keep the CLS token; None: drop for images, keep for videos
    frozen: bool = True  # requires_grad=False
    temporal: bool | None = None  # items are frame sequences (T, 3, H, W); None: the modality's default
    pad_to_square: bool = False  # image preprocessing: pad with the mean colour first
    # frames per tower call (joined after; same output, bounded memory); None or 0: all at once
    chunk_frames: int | None = Field(default=None, ge=0, description=CHUNK_FRAMES_DOC)


class OpenClipEncoder(Encoder):
    """An OpenCLIP ViT tower for images, or applied frame by frame for videos."""

    def __init__(
        self,
        visual: VisionTransformer,
        name: str,
        cfg: dict[str, Any],
        options: OpenClipOptions,
        modality: str,
        temporal: bool = False,
    ) -> None:
        super().__init__()
        self.visual = visual
        self.model_name = name
        self.model_cfg = cfg  # the resolved config (text_cfg excluded), saved as an artifact
        self.modality = modality
        self.video = temporal
        num_blocks = len(visual.transformer.resblocks)
        self.blocks = [_block_index(layer, num_blocks) for layer in layer_list(options.select_layer)]
        self.keep_cls = self.video if options.keep_cls is None else options.keep_cls
        self.pad_to_square = options.pad_to_square
        self.chunk_frames = options.chunk_frames or None
        if options.frozen:
            self.requires_grad_(False)

    @property
    def output_dim(self) -> int:
        return self.visual.transformer.width * len(self.blocks)

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        return pixel_shape(self.visual.image_size[0], self.video)

    def tokens_per_item(self, num_frames: int | None = None) -> int:
        rows, cols = self.visual.grid_size
        return token_count(rows * cols + int(self.keep_cls), self.video, num_frames)

    def token_layout(self, num_tokens: int) -> TokenLayout | None:
        """Frames (1 for an image) of the CLS token if kept, then the tower's patch grid row-major; the
        features of several ``select_layer`` layers are concatenated along the width: the same layout."""
        return TokenLayout.of(num_tokens, int(self.keep_cls), *map(int, self.visual.grid_size))

    def media_transform(self) -> Callable[[Any], torch.Tensor]:
        return pixel_transform(
            self.video, self.pad_to_square, size=self.visual.image_size[0], interpolation="bicubic",
            mean=tuple(getattr(self.visual, "image_mean", None) or OPENAI_CLIP_MEAN),
            std=tuple(getattr(self.visual, "image_std", None) or OPENAI_CLIP_STD),
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        tokens = in_chunks(self.encode_frames, flatten_frames(pixels, self.video), self.chunk_frames)
        return frame_major(tokens, len(pixels)) if self.video else tokens

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """``(F, 3, S, S)`` images / frames to their tokens ``(F, P[+1], D * len(select_layer))``."""
        taken = sorted(set(self.blocks))
        out = self.visual.forward_intermediates(
            frames.to(self.visual.conv1.weight.dtype), indices=taken, stop_early=True,
            intermediates_only=True, output_fmt="NLC", output_extra_tokens=self.keep_cls,
        )
        feats = out["image_intermediates"]
        if self.keep_cls:
            prefixes = out["image_intermediates_prefix"]
            feats = [torch.cat([cls, patches], dim=1) for cls, patches in zip(prefixes, feats)]
        return torch.cat([feats[taken.index(block)] for block in self.blocks], dim=-1)

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
    cfg = _deep_merge(base, overrides)
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


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            "clip", OpenClipOptions, build, ("image", "video"),
            "OpenCLIP ViT vision tower by model name; videos frame by frame",
        )
    ]
