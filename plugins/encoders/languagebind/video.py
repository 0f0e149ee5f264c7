"""video.py

The ``languagebind_video`` encoder: LanguageBind's video tower (temporal attention in every layer, see
`video_tower`), as Video-LLaVA uses it.

``(N, T, 3, H, W) -> (N, T * (1 + P), D)``: the tokens of ``hidden_states[select_layer]`` (default -2),
CLS kept by default, frame-major (frame 0's CLS and patches, then frame 1's, ...): 8 x 257 = 2056 tokens
at 224 px. Any T works (the temporal embedding is interpolated when T differs from ``num_frames``).
Weights come from a local LanguageBind_Video_merge checkpoint (tower under ``vision_model.``); the copy
inside Video-LLaVA-7B loads through `LanguageBindVideoEncoder.load_tower_state` with its prefix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from pydantic import Field

from mmbind import EncoderEntry, hookimpl
from mmbind.checkpoints import read_state_dict
from mmbind.interfaces import BuildContext, Encoder
from mmbind.media import VideoTransform

from .presets import TowerOptions, hidden_index, make_config, restored_config
from .video_tower import LanguageBindVideoTower
from .weights import load_tower_state

NAME = "languagebind_video"
VIDEO_LLAVA_PREFIX = "model.video_tower.video_tower."  # the tower's copy inside Video-LLaVA-7B


class LanguageBindVideoOptions(TowerOptions):
    """Options of the ``languagebind_video`` encoder."""

    keep_cls: bool = True  # keep each frame's CLS token (Video-LLaVA does: 257 tokens per frame)
    num_frames: int | None = Field(default=None, ge=1)  # temporal embedding length T0; None: preset's


class LanguageBindVideoEncoder(Encoder):
    """LanguageBind's temporal-attention tower returning one hidden layer's tokens per video."""

    def __init__(
        self, tower: LanguageBindVideoTower, options: LanguageBindVideoOptions, modality: str
    ) -> None:
        super().__init__()
        self.tower = tower
        self.modality = modality
        self.layer = hidden_index(NAME, options.select_layer, tower.config.num_hidden_layers)
        self.keep_cls = options.keep_cls
        if options.frozen:
            self.requires_grad_(False)

    @property
    def output_dim(self) -> int:
        return self.tower.config.hidden_size

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        size = self.tower.config.image_size
        return (None, 3, size, size)

    def tokens_per_item(self, num_frames: int | None = None) -> int:
        config = self.tower.config
        per_frame = (config.image_size // config.patch_size) ** 2 + int(self.keep_cls)
        return per_frame * (num_frames or config.num_frames)

    def media_transform(self) -> Callable[[Any], torch.Tensor]:
        return VideoTransform(size=self.tower.config.image_size)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        hidden = self.tower(pixels, layer=self.layer)  # (N*T, 1+P, D)
        if not self.keep_cls:
            hidden = hidden[:, 1:]
        return hidden.reshape(pixels.shape[0], -1, hidden.shape[-1])

    def load_tower_state(
        self, state: dict[str, torch.Tensor], prefix: str | None = None, where: str = "checkpoint",
        ignore_others: bool = False,
    ) -> None:
        """Load the tower from ``state``: prefix None detects ``vision_model.`` or bare names; for the copy
        inside Video-LLaVA-7B pass ``prefix=VIDEO_LLAVA_PREFIX, ignore_others=True``."""
        load_tower_state(self.tower, state, prefix, where, ignore_others)

    def save_artifacts(self, directory: Path) -> None:
        self.tower.config.save_pretrained(directory)


def build(options: LanguageBindVideoOptions, context: BuildContext) -> LanguageBindVideoEncoder:
    """Factory registered as ``languagebind_video``."""
    if context.artifacts_dir is not None:
        config = restored_config(context.artifacts_dir, options.attn_implementation)
    else:
        frames = {} if options.num_frames is None else {"num_frames": options.num_frames}
        config = make_config(NAME, options, video=True, **frames)
    encoder = LanguageBindVideoEncoder(LanguageBindVideoTower(config), options, context.modality or "video")
    if options.weights is not None and context.load_weights and context.artifacts_dir is None:
        encoder.load_tower_state(read_state_dict(options.weights), where=options.weights)
    return encoder


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            NAME, LanguageBindVideoOptions, build, ("video",),
            "LanguageBind_Video_merge tower with per-layer temporal attention (Video-LLaVA's), local weights",
        )
    ]
