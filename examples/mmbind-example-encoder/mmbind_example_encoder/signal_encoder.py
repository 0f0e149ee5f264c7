"""signal_encoder.py

Contributes the ``signal_patch`` encoder for the ``signal`` modality: the signal resampled to ``length``
samples and standardised (its ``media_transform``), cut into patches of ``patch`` samples, each embedded
linearly into one token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

import mmbind
from mmbind.interfaces import BuildContext, Encoder


class SignalPatchOptions(BaseModel):
    """Options of ``signal_patch``."""

    model_config = ConfigDict(extra="forbid")
    length: int = Field(64, ge=2)  # samples per signal after resampling
    patch: int = Field(8, ge=1)  # samples per token
    width: int = Field(32, ge=1)  # output token width

    @model_validator(mode="after")
    def _whole_patches(self) -> SignalPatchOptions:
        if self.length % self.patch:
            raise ValueError(f"length {self.length} is not a multiple of patch {self.patch}")
        return self


class SignalTransform:
    """A 1-D array of any length -> ``(1, length)`` float tensor: linear resampling, zero mean, unit std."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __call__(self, values: Any) -> torch.Tensor:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        grid = np.linspace(0, len(values) - 1, self.length)
        resampled = np.interp(grid, np.arange(len(values)), values)
        standardised = (resampled - resampled.mean()) / (resampled.std() + 1e-6)
        return torch.from_numpy(standardised.astype(np.float32))[None]

    def __repr__(self) -> str:  # part of the feature-cache identity
        return f"SignalTransform(length={self.length})"


class SignalPatchEncoder(Encoder):
    """Patchify a signal, one linear token per patch."""

    def __init__(self, options: SignalPatchOptions, modality: str) -> None:
        super().__init__()
        self.options = options
        self.modality = modality
        self.embed = nn.Conv1d(1, options.width, options.patch, stride=options.patch)

    @property
    def output_dim(self) -> int:
        return self.options.width

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        return (1, self.options.length)

    def tokens_per_item(self, num_frames: int | None = None) -> int:
        return self.options.length // self.options.patch

    def media_transform(self) -> Callable[[Any], torch.Tensor]:
        return SignalTransform(self.options.length)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.embed(pixels).transpose(1, 2)


def build(options: SignalPatchOptions, context: BuildContext) -> SignalPatchEncoder:
    return SignalPatchEncoder(options, context.modality or "signal")


@mmbind.hookimpl
def mmbind_encoders() -> list[mmbind.EncoderEntry]:
    return [mmbind.EncoderEntry("signal_patch", SignalPatchOptions, build, ("signal",),
                                "example plugin: 1-D signals, one token per patch")]
