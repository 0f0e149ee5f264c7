"""slowfast.py

The ``slowfast`` projector (SlowFast-LLaVA): the ``mlp2x_gelu`` projection, then two pathways over a
video's frames — a slow one, a few frames at full tokens, and a fast one, every frame pooled hard.

- Slow: ``S = min(slow_frames, T)`` frames evenly spaced, ``np.linspace(0, T - 1, S).astype(int)`` (the
  first and, for S > 1, the last frame), each with all its tokens (prefix and patch grid).
- Fast: all T frames, each its prefix tokens then its patch grid average-pooled with kernel = stride =
  ``fast_stride`` (ceil mode, see `frame_pool`).

Output order: the slow frames' tokens (in frame order, each frame's prefix then grid), then the fast
tokens of frame 0, 1, ..., T - 1. Items of one frame (images, and one-frame videos) keep all their tokens.
The encoder must declare its token layout (`Encoder.token_layout`); without one it is a `RecipeError`.

Worked example (LanguageBind video, 8 frames of 1 CLS + 16 x 16 patches = 2056 tokens), ``slow_frames: 2,
fast_stride: 4`` (frames 0 and 7 slow): ``2 x 257 + 8 x (1 + 4 x 4) = 514 + 136 = 650`` tokens. A
LanguageBind image (256 patches) stays 256 tokens.

The parameters are mlp2x_gelu's (``layers.0.*``, ``layers.2.*``): weights of an mlp2x_gelu projector load
as they are.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from mmbind import ProjectorEntry, hookimpl
from mmbind.interfaces import BuildContext, TokenLayout
from mmbind_plugins.projectors.frame_pool import checked_layout, pool_frames, pooled_layout, require_layout
from mmbind_plugins.projectors.mlp_gelu import MLPGeluOptions, MLPGeluProjector

NAME = "slowfast"


class SlowFastOptions(MLPGeluOptions):
    """Options of the ``slowfast`` projector (``act`` / ``bias``: as ``mlp2x_gelu``)."""

    slow_frames: int = Field(2, ge=1, description="frames kept at full tokens, evenly spaced")
    fast_stride: int = Field(4, ge=1, description="fast path: pooling kernel and stride of each frame grid")


class SlowFastProjector(MLPGeluProjector):
    """mlp2x_gelu, then the slow frames' full tokens followed by every frame's hard-pooled tokens."""

    def __init__(self, in_dim: int, out_dim: int, options: SlowFastOptions) -> None:
        super().__init__(in_dim, out_dim, options.act, options.bias)
        self.slow_frames, self.fast_stride = options.slow_frames, options.fast_stride

    def slow_indices(self, frames: int) -> list[int]:
        """The frames of the slow pathway among ``frames``."""
        count = min(self.slow_frames, frames)
        return [int(i) for i in np.linspace(0, frames - 1, count).astype(int)]

    def output_tokens(self, num_tokens: int, layout: TokenLayout | None = None) -> int:
        layout = require_layout(NAME, num_tokens, layout)
        if layout.frames == 1:
            return num_tokens
        slow = len(self.slow_indices(layout.frames)) * layout.per_frame
        return slow + pooled_layout(layout, self.fast_stride).tokens

    def project(self, tokens: torch.Tensor, layout: TokenLayout | None = None) -> torch.Tensor:
        return self(tokens, layout)

    def forward(self, tokens: torch.Tensor, layout: TokenLayout | None = None) -> torch.Tensor:
        """``(N, L, D_in)`` items arranged as ``layout`` to ``(N, output_tokens(L, layout), D_out)``."""
        layout = checked_layout(NAME, tokens, layout)
        projected = self.layers(tokens)
        if layout.frames == 1:
            return projected
        items, _, dim = projected.shape
        frames = projected.reshape(items, layout.frames, layout.per_frame, dim)
        slow = frames[:, self.slow_indices(layout.frames)].reshape(items, -1, dim)
        return torch.cat([slow, pool_frames(projected, layout, self.fast_stride)], dim=1)


def build(options: SlowFastOptions, in_dim: int, out_dim: int, context: BuildContext) -> SlowFastProjector:
    """Factory registered as ``slowfast`` (the same projector whichever modality ``context`` names)."""
    return SlowFastProjector(in_dim, out_dim, options)


@hookimpl
def mmbind_projectors() -> list[ProjectorEntry]:
    return [
        ProjectorEntry(NAME, SlowFastOptions, build,
                       "mlp2x_gelu; a few frames at full tokens, all frames pooled hard (SlowFast-LLaVA)")
    ]
