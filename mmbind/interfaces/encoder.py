"""encoder.py

`Encoder`: pixels of one modality to a sequence of tokens.

Images arrive as ``(N, 3, H, W)``, videos as ``(N, T, 3, H, W)``; an encoder returns ``(N, L, D)`` where
``L`` is its number of tokens per item and ``D`` its output width. An encoder declares the shape of one
item (``None`` for a free dimension such as the frame count), so the host can reject wrong tensors with a
clear message before any computation, and its own preprocessing (`media_transform`).

An encoder may declare how its tokens are arranged (`token_layout`: frames, CLS, patch grid), which token-
compressing projectors need, and how many time steps it is built for (`default_frames`, what inference
samples for a lone checkpoint). What training needs from an encoder is declared here too: whether its items
have a time axis (`temporal`), how its parameters are initialised from an aligned encoder
(`init_source_name`), and the optional masked encoding of MAE pre-training (`masked_patch_grid`,
`masked_encode`; by default they raise a `RecipeError` saying the encoder does not support them). What the
checkpoint converters need is declared too (`original_tower`, `load_original_state`; by default a
`ConversionError` saying the encoder cannot be converted).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mmbind.interfaces.capability import not_convertible, unsupported
from mmbind.interfaces.conversion import OriginalTower
from mmbind.interfaces.patch_grid import PatchGrid
from mmbind.interfaces.token_layout import TokenLayout


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

    def token_layout(self, num_tokens: int) -> TokenLayout | None:
        """How ``num_tokens`` output tokens of one item are arranged (frames, prefix tokens, patch grid), for
        projectors that compress tokens by their place; None (the default) when the encoder does not say."""
        return None

    @property
    def temporal(self) -> bool:
        """True when items have a time axis (``(T, C, H, W)``, `item_shape` starting with a free ``T``)."""
        return self.item_shape[0] is None

    @property
    def default_frames(self) -> int | None:
        """Time steps per item this encoder is built for, used when nothing else says how many to sample (a
        lone checkpoint without its run's recipe): e.g. the length of its temporal embedding, the count
        ``tokens_per_item(None)`` assumes. None (the default): no preference."""
        return None

    def init_source_name(self, name: str) -> str | None:
        """The parameter of an aligned source encoder that parameter ``name`` copies when this encoder is
        initialised from it (align ``init_from_encoder``); None: ``name`` starts at zero.

        Names are relative to each encoder's longest common dotted prefix. Default: the same name, so two
        encoders with the same architecture below their root correspond.
        """
        return name

    def masked_patch_grid(self) -> PatchGrid:
        """The patch geometry of `masked_encode` (MAE pre-training); unsupported by default."""
        raise unsupported(self, "masked encoding (kind mae)", "encoder")

    def masked_encode(self, pixels: torch.Tensor, keep_ids: torch.Tensor) -> torch.Tensor:
        """Encode ``(N, 3, H, W)`` images keeping only the patches ``keep_ids`` ``(N, K)`` (row-major patch
        ids, after position embedding): ``(N, prefix + K, width)`` tokens (see `masked_patch_grid`)."""
        raise unsupported(self, "masked encoding (kind mae)", "encoder")

    def original_tower(self) -> OriginalTower:
        """This encoder as the upstream vision tower it runs: its transformers config, the hidden layer it
        reads, whether it keeps CLS tokens, and its weights under the tower's own names (sharing storage
        with its parameters), for the checkpoint converters. Default: it cannot be converted."""
        raise not_convertible(self, "original_tower", "encoder")

    def load_original_state(self, state: dict[str, torch.Tensor], where: str) -> None:
        """Load the tower's weights strictly from ``state`` as its upstream project saves them (e.g. a
        LanguageBind checkpoint), errors naming ``where``. Default: it cannot be converted."""
        raise not_convertible(self, "load_original_state", "encoder")
