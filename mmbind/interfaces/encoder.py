"""encoder.py

`Encoder`: pixels of one modality to a sequence of tokens.

Images arrive as ``(N, 3, H, W)``, videos as ``(N, T, 3, H, W)``; an encoder returns ``(N, L, D)`` where
``L`` is its number of tokens per item and ``D`` its output width. An encoder declares the shape of one
item (``None`` for a free dimension such as the frame count), so the host can reject wrong tensors with a
clear message before any computation, and its own preprocessing (`media_transform`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn


class Encoder(nn.Module, ABC):
    """A (usually frozen) media encoder; subclass and implement the abstract members."""

    modality: str  # the recipe key this instance serves

    @property
    @abstractmethod
    def output_dim(self) -> int:
        """Width ``D`` of the output tokens."""

    @property
    @abstractmethod
    def item_shape(self) -> tuple[int | None, ...]:
        """Shape of one item, e.g. ``(3, 224, 224)`` or ``(None, 3, 224, 224)``; ``None`` is free."""

    @abstractmethod
    def tokens_per_item(self, num_frames: int | None = None) -> int:
        """Number of output tokens ``L`` for one item (with ``num_frames`` frames for videos)."""

    @abstractmethod
    def media_transform(self) -> Callable[[Any], torch.Tensor]:
        """The preprocessing that turns one decoded item (PIL image / frame array) into pixels."""

    @abstractmethod
    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Encode ``(N, *item_shape)`` pixels to ``(N, L, D)`` tokens."""

    def save_artifacts(self, directory: Path) -> None:
        """Write what is needed to rebuild this encoder without its original files (e.g. a config)."""
