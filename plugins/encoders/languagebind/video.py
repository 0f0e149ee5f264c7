"""video.py

The ``languagebind_video`` encoder: LanguageBind's video tower (temporal attention in every layer, see
`video_tower`), as Video-LLaVA uses it.

``(N, T, 3, H, W) -> (N, T * (1 + P), D)``: the tokens of ``hidden_states[select_layer]`` (default -2),
CLS kept by default, frame-major (frame 0's CLS and patches, then frame 1's, ...): 8 x 257 = 2056 tokens
at 224 px (`token_layout`: T frames, each its CLS token then the 16 x 16 patch grid row-major). Any T
works (the temporal embedding is interpolated when T differs from ``num_frames``).
Weights come from a local LanguageBind_Video_merge checkpoint (tower under ``vision_model.``); the copy
inside Video-LLaVA-7B loads through `LanguageBindVideoEncoder.load_tower_state` with its prefix.

Initialised from an image tower of the same geometry (align ``init_from_encoder``, LanguageBind's
``add_time_attn_block``), every spatial weight is copied, each layer's ``temporal_attn`` /
``temporal_layer_norm1`` copies its ``self_attn`` / ``layer_norm1`` and ``temporal_embedding`` starts at
zero (`LanguageBindVideoEncoder.init_source_name`).

Long videos: ``chunk_frames: k`` runs the tower in slices of about k frames' tokens (spatial attention + MLP
over frame groups, temporal attention over token-position groups with all T frames each; see
`video_tower`): the same output, gradients included, with activation memory bounded by k instead of N*T.
None or 0: no chunking; negative values are rejected when the options are validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from pydantic import Field

from mmbind import EncoderEntry, hookimpl
from mmbind.interfaces import BuildContext
from mmbind.interfaces.encoder_helpers import drop_cls, frame_major, pixel_shape, token_count
from mmbind.media import VideoTransform

from .base import TowerEncoder
from .presets import TowerOptions, make_config, restored_config

if TYPE_CHECKING:
    from .video_tower import LanguageBindVideoTower

NAME = "languagebind_video"
VIDEO_LLAVA_PREFIX = "model.video_tower.video_tower."  # the tower's copy inside Video-LLaVA-7B
TEMPORAL_SOURCES = (("temporal_attn.", "self_attn."), ("temporal_layer_norm1.", "layer_norm1."))
ZERO_INIT = ("temporal_embedding",)  # parameters that start at zero when initialised from an image tower
CHUNK_DOC = (
    "run the tower in slices of about this many frames' tokens: patch embedding, spatial attention and MLP "
    "over groups of frames, temporal attention over groups of token positions with all T frames each; the "
    "same output, activation memory bounded by the chunk instead of N * T; None or 0: no chunking"
)


class LanguageBindVideoOptions(TowerOptions):
    """Options of the ``languagebind_video`` encoder."""

    keep_cls: bool = True  # keep each frame's CLS token (Video-LLaVA does: 257 tokens per frame)
    num_frames: int | None = Field(default=None, ge=1)  # temporal embedding length T0; None: preset's
    # run the tower in slices of about this many frames' tokens (same output, bounded activation memory;
    # temporal attention still sees all T frames); None or 0: no chunking
    chunk_frames: int | None = Field(default=None, ge=0, description=CHUNK_DOC)


class LanguageBindVideoEncoder(TowerEncoder):
    """LanguageBind's temporal-attention tower returning one hidden layer's tokens per video.

    The tower's copy inside Video-LLaVA-7B loads with
    ``load_tower_state(state, prefix=VIDEO_LLAVA_PREFIX, ignore_others=True)``.
    """

    def __init__(
        self, tower: LanguageBindVideoTower, options: LanguageBindVideoOptions, modality: str
    ) -> None:
        super().__init__(tower, options, options.keep_cls, NAME, modality)
        self.chunk_frames = options.chunk_frames or None

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        return pixel_shape(self.tower.config.image_size, video=True)

    @property
    def default_frames(self) -> int | None:
        return int(self.tower.config.num_frames)  # the temporal embedding's length (the checkpoint's T0)

    def tokens_per_item(self, num_frames: int | None = None) -> int:
        return token_count(self.tokens_per_frame(), True, num_frames, default_frames=self.default_frames or 1)

    def media_transform(self) -> Callable[[Any], torch.Tensor]:
        return VideoTransform(size=self.tower.config.image_size)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        hidden = self.tower(pixels, layer=self.layer, chunk_frames=self.chunk_frames)  # (N*T, 1+P, D)
        return frame_major(drop_cls(hidden, self.keep_cls), len(pixels))

    def init_source_name(self, name: str) -> str | None:
        if name.rsplit(".", 1)[-1] in ZERO_INIT:
            return None
        for temporal, spatial in TEMPORAL_SOURCES:
            name = name.replace(temporal, spatial)
        return name


def build(options: LanguageBindVideoOptions, context: BuildContext) -> LanguageBindVideoEncoder:
    """Factory registered as ``languagebind_video``."""
    from .video_tower import LanguageBindVideoTower

    if context.artifacts_dir is not None:
        config = restored_config(context.artifacts_dir, options.attn_implementation)
    else:
        frames = {} if options.num_frames is None else {"num_frames": options.num_frames}
        config = make_config(NAME, options, video=True, **frames)
    encoder = LanguageBindVideoEncoder(LanguageBindVideoTower(config), options, context.modality or "video")
    encoder.load_option_weights(options, context)
    return encoder


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            NAME, LanguageBindVideoOptions, build, ("video",),
            "LanguageBind_Video_merge tower with per-layer temporal attention (Video-LLaVA's), local weights",
        )
    ]
