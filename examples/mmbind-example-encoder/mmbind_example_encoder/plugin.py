"""plugin.py

Contributes the ``patch_mean`` encoder: a linear patch embedding whose tokens are average-pooled into a
small grid. It works for images and, frame by frame, for videos; it shows everything a plugin needs:
an ``Options`` model, an `Encoder` implementation and a ``@hookimpl`` returning an `EncoderEntry`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

import mmbind
from mmbind.interfaces import BuildContext, Encoder
from mmbind.media import ImageTransform, VideoTransform


class PatchMeanOptions(BaseModel):
    """Options of ``patch_mean``."""

    model_config = ConfigDict(extra="forbid")
    image_size: int = Field(32, ge=8)  # input side length
    patch_size: int = Field(8, ge=1)  # patch side length
    width: int = Field(16, ge=1)  # output token width


class PatchMeanEncoder(Encoder):
    """Patchify, embed linearly, one token per patch."""

    def __init__(self, options: PatchMeanOptions, modality: str, temporal: bool) -> None:
        super().__init__()
        self.options = options
        self.modality = modality
        self.video = temporal  # items are frame sequences (the host's default for the modality)
        self.embed = nn.Conv2d(3, options.width, options.patch_size, stride=options.patch_size)

    @property
    def output_dim(self) -> int:
        return self.options.width

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        size = self.options.image_size
        return (None, 3, size, size) if self.video else (3, size, size)

    def tokens_per_item(self, num_frames: int | None = None) -> int:
        per_frame = (self.options.image_size // self.options.patch_size) ** 2
        return per_frame * (num_frames or 1)

    def media_transform(self) -> Callable[[Any], torch.Tensor]:
        size = self.options.image_size
        return VideoTransform(size=size) if self.video else ImageTransform(size=size)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        frames = pixels.flatten(0, 1) if pixels.ndim == 5 else pixels
        tokens = self.embed(frames).flatten(2).transpose(1, 2)
        return tokens.reshape(pixels.shape[0], -1, tokens.shape[-1])


def build(options: PatchMeanOptions, context: BuildContext) -> PatchMeanEncoder:
    return PatchMeanEncoder(options, context.modality or "image", bool(context.temporal))


@mmbind.hookimpl
def mmbind_encoders() -> list[mmbind.EncoderEntry]:
    return [
        mmbind.EncoderEntry("patch_mean", PatchMeanOptions, build, ("*",), "example plugin: any modality")
    ]
