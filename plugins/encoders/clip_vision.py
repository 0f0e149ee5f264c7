"""clip_vision.py

The ``clip_vision`` encoder: transformers' `CLIPVisionModel`, tokens from a chosen hidden layer.

For images: ``(N, 3, H, W) -> (N, P[+1], D)``; for videos each frame is encoded independently (as
transformers' Video-LLaVA does) and the frames' tokens are concatenated frame-major:
``(N, T, 3, H, W) -> (N, T * (P + 1), D)``. ``keep_cls`` defaults to Video-LLaVA's choice: dropped for
images, kept for videos. Weights come from a local directory only. ``chunk_frames: k`` encodes at most k
frames (or images) per tower call and joins the results (same output, bounded memory for long videos;
None or 0: all at once). The shared options and the frame loop: `frame_encoder`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import field_validator, model_validator
from transformers import CLIPVisionConfig, CLIPVisionModel

from mmbind import CheckpointError, EncoderEntry, hookimpl
from mmbind.interfaces import BuildContext, OriginalTower
from mmbind.interfaces.encoder_helpers import drop_cls, is_temporal, layer_list
from mmbind_plugins.encoders.frame_encoder import FrameEncoder, FrameOptions
from mmbind_plugins.hf_config import checked_config


class ClipVisionOptions(FrameOptions):
    """Options of the ``clip_vision`` encoder."""

    path: str | None = None  # local CLIPVisionModel / CLIPModel directory; never downloaded
    config: dict[str, Any] | None = None  # CLIPVisionConfig fields for a randomly initialised tower
    attn_implementation: Literal["eager", "sdpa"] = "sdpa"  # attention kernel

    @model_validator(mode="after")
    def _one_source(self) -> ClipVisionOptions:
        if (self.path is None) == (self.config is None):
            raise ValueError("give exactly one of 'path' (local weights) or 'config' (random init)")
        return self

    @field_validator("config")
    @classmethod
    def _valid_config(cls, config: dict[str, Any] | None) -> dict[str, Any] | None:
        """The CLIPVisionConfig is built now, at recipe time (unknown keys, bad geometry)."""
        if config is not None:
            checked_config(CLIPVisionConfig, config)
        return config


class ClipVisionEncoder(FrameEncoder):
    """A CLIP ViT tower for images, or applied frame by frame for videos."""

    tower: CLIPVisionModel

    def __init__(
        self, tower: CLIPVisionModel, options: ClipVisionOptions, modality: str, temporal: bool = False
    ) -> None:
        super().__init__(options, modality, temporal, layer_list(options.select_layer), tower=tower)
        self.select_layer = options.select_layer  # as the original checkpoint names it (conversion)

    @property
    def image_size(self) -> int:
        return int(self.tower.config.image_size)

    @property
    def layer_width(self) -> int:
        return int(self.tower.config.hidden_size)

    def patch_grid(self) -> tuple[int, int]:
        """Patch rows and columns of one image / frame (``image_size // patch_size`` each)."""
        config = self.tower.config
        side = config.image_size // config.patch_size
        return side, side

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """``(F, 3, H, W)`` images / frames to their tokens ``(F, P[+1], D * len(select_layer))``."""
        hidden = self.tower(pixel_values=frames.to(self.tower.dtype), output_hidden_states=True).hidden_states
        return drop_cls(torch.cat([hidden[i] for i in self.layers], dim=-1), self.keep_cls)

    def save_artifacts(self, directory: Path) -> None:
        self.tower.config.save_pretrained(directory)

    def original_tower(self) -> OriginalTower:
        """The CLIP vision transformer under its own names (without the ``vision_model.`` level that some
        transformers versions add), its config, ``select_layer`` and the CLS choice."""
        state = {k.removeprefix("vision_model."): v for k, v in self.tower.state_dict().items()}
        return OriginalTower(self.tower.config, self.select_layer, self.keep_cls, state)


def build(options: ClipVisionOptions, context: BuildContext) -> ClipVisionEncoder:
    """Factory registered as ``clip_vision``."""
    attn = options.attn_implementation
    if context.artifacts_dir is not None:
        config = CLIPVisionConfig.from_pretrained(context.artifacts_dir)
        tower = CLIPVisionModel._from_config(config, attn_implementation=attn)
    elif options.config is not None:
        tower = CLIPVisionModel._from_config(CLIPVisionConfig(**options.config), attn_implementation=attn)
    else:
        path = Path(options.path)  # type: ignore[arg-type]
        if not (path / "config.json").is_file():
            raise CheckpointError(f"clip_vision: {path} is not a local CLIP checkpoint (no config.json)")
        tower = CLIPVisionModel.from_pretrained(path, local_files_only=True, attn_implementation=attn)
    temporal = is_temporal(options.temporal, context)
    return ClipVisionEncoder(tower, options, context.modality or "image", temporal)


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            "clip_vision", ClipVisionOptions, build, ("image", "video"),
            "transformers CLIPVisionModel; videos frame by frame",
        )
    ]
