"""frame_encoder.py

What the frame-by-frame encoders (``clip_vision``, ``clip``, ``mae``) share: `FrameOptions`, their six
common options, and `FrameEncoder`, an image tower serving images ``(N, 3, S, S) -> (N, P[+1], D)`` and
videos frame by frame, the frames' tokens joined frame-major: ``(N, T, 3, S, S) -> (N, T * (P[+1]), D)``.

`FrameEncoder` owns the options' meaning: ``temporal`` (images or frame sequences), ``keep_cls`` (None:
dropped for images, kept for videos, Video-LLaVA's choice), ``frozen``, ``pad_to_square`` and
``chunk_frames`` (at most k frames of the whole batch per tower call, joined after: the same output,
bounded memory; None or 0: all at once), and from them the item shape, token count and layout (per frame
the CLS token if kept, then the patch grid row-major; several ``select_layer`` layers are concatenated along
the width, which leaves the layout as is), the output width and the preprocessing. A plugin gives its tower
(under the attribute name its parameters are saved with) and the tower's layers, and writes only the hooks:
`image_size`, `patch_grid`, `layer_width`, `encode_frames` and, when its preprocessing differs from
CLIP's defaults, `transform_fields`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import torch
from pydantic import Field
from torch import nn

from mmbind.interfaces import Encoder, TokenLayout
from mmbind.interfaces.encoder_helpers import (
    CHUNK_FRAMES_DOC,
    flatten_frames,
    frame_major,
    in_chunks,
    pixel_shape,
    pixel_transform,
    token_count,
)
from mmbind.recipe.strict import StrictModel


class FrameOptions(StrictModel):
    """The options every frame-by-frame encoder shares; a plugin's options class adds its own."""

    select_layer: int | list[int] = -2  # hidden_states-style layer index; a list concatenates those layers
    keep_cls: bool | None = None  # keep the CLS token; None: drop for images, keep for videos
    frozen: bool = True  # requires_grad=False, as Video-LLaVA's towers
    temporal: bool | None = None  # items are frame sequences (T, 3, H, W); None: the modality's default
    pad_to_square: bool = False  # image preprocessing: pad with the mean colour first
    # frames per tower call (joined after; same output, bounded memory); None or 0: all at once
    chunk_frames: int | None = Field(default=None, ge=0, description=CHUNK_FRAMES_DOC)


class FrameEncoder(Encoder):
    """An image tower for images, or applied frame by frame for videos; subclasses implement the hooks."""

    def __init__(
        self, options: FrameOptions, modality: str, temporal: bool, layers: Sequence[int], **tower: nn.Module
    ) -> None:
        """``layers``: what `encode_frames` reads (``select_layer`` in the tower's own numbering); ``tower``:
        the one tower, named as its parameters are saved (``vit=...``)."""
        super().__init__()
        ((name, module),) = tower.items()
        self.add_module(name, module)
        self.modality = modality
        self.video = temporal
        self.layers = list(layers)
        self.keep_cls = temporal if options.keep_cls is None else options.keep_cls
        self.pad_to_square = options.pad_to_square
        self.chunk_frames = options.chunk_frames or None
        if options.frozen:
            self.requires_grad_(False)

    @property
    @abstractmethod
    def image_size(self) -> int:
        """Side length ``S`` of the square images / frames the tower reads."""

    @abstractmethod
    def patch_grid(self) -> tuple[int, int]:
        """Patch rows and columns of one image / frame."""

    @property
    @abstractmethod
    def layer_width(self) -> int:
        """Width of one layer's features (`output_dim` is this times the number of layers)."""

    @abstractmethod
    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """``(F, 3, S, S)`` images / frames to their tokens ``(F, P[+1], D * len(layers))``, the CLS token
        first when ``keep_cls``."""

    def transform_fields(self) -> dict[str, Any]:
        """Fields of the image / video transform besides its size (mean, std, interpolation, ...); none by
        default (`ImageTransform`'s CLIP defaults)."""
        return {}

    @property
    def output_dim(self) -> int:
        return self.layer_width * len(self.layers)

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        return pixel_shape(self.image_size, self.video)

    def tokens_per_item(self, num_frames: int | None = None) -> int:
        rows, cols = self.patch_grid()
        return token_count(rows * cols + int(self.keep_cls), self.video, num_frames)

    def token_layout(self, num_tokens: int) -> TokenLayout | None:
        """Frames (1 for an image) of the CLS token if kept, then the `patch_grid` row-major; the features of
        several ``select_layer`` layers are concatenated along the width, which leaves the layout as is."""
        return TokenLayout.of(num_tokens, int(self.keep_cls), *self.patch_grid())

    def media_transform(self) -> Callable[[Any], torch.Tensor]:
        fields = self.transform_fields()
        return pixel_transform(self.video, self.pad_to_square, size=self.image_size, **fields)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        tokens = in_chunks(self.encode_frames, flatten_frames(pixels, self.video), self.chunk_frames)
        return frame_major(tokens, len(pixels)) if self.video else tokens
