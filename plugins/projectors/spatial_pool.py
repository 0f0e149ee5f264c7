"""spatial_pool.py

The ``spatial_pool`` projector (LLaVA-Video, PLLaVA): the ``mlp2x_gelu`` projection, then each frame's
patch grid average-pooled with kernel = stride = ``stride`` (ceil mode, see `frame_pool`), so a video costs
about ``stride ** 2`` times fewer LLM tokens.

Tokens come in the encoder's `TokenLayout` (frame-major; per frame ``prefix`` tokens, e.g. a kept CLS,
then an ``h x w`` grid) and leave in the same order: per frame its prefix tokens (``keep_prefix``, default
true; dropped otherwise) then its pooled ``ceil(h / stride) x ceil(w / stride)`` grid, row-major. Items of
one frame (images) keep all their tokens unless ``pool_images`` (LLaVA-Video pools video frames only); a
one-frame video counts as an image.

Worked example (LanguageBind video, 8 frames of 1 CLS + 16 x 16 patches = 2056 tokens), stride 2:
``8 x (1 + 8 x 8) = 520`` tokens; ``keep_prefix: false``: ``8 x 64 = 512``; stride 3: ``8 x (1 + 6 x 6)
= 296``. A LanguageBind image (256 patches, no CLS) stays 256 tokens, or ``8 x 8 = 64`` with
``pool_images: true``.

The parameters are mlp2x_gelu's (``layers.0.*``, ``layers.2.*``): weights of an mlp2x_gelu projector load
as they are. The encoder must declare its token layout (`Encoder.token_layout`); without one the token
count cannot be planned and is a `RecipeError`.
"""

from __future__ import annotations

import torch
from pydantic import Field

from mmbind import ProjectorEntry, hookimpl
from mmbind.interfaces import BuildContext, TokenLayout
from mmbind_plugins.projectors.frame_pool import checked_layout, pool_frames, pooled_layout, require_layout
from mmbind_plugins.projectors.mlp_gelu import MLPGeluOptions, MLPGeluProjector

NAME = "spatial_pool"


class SpatialPoolOptions(MLPGeluOptions):
    """Options of the ``spatial_pool`` projector (``act`` / ``bias``: as ``mlp2x_gelu``)."""

    stride: int = Field(2, ge=1, description="pooling kernel and stride over each frame's patch grid")
    pool_images: bool = Field(False, description="pool one-frame items (images) too; LLaVA-Video does not")
    keep_prefix: bool = Field(True, description="keep each frame's prefix tokens (a kept CLS), unpooled")


class SpatialPoolProjector(MLPGeluProjector):
    """mlp2x_gelu, then per-frame 2-D average pooling of the patch grid."""

    def __init__(self, in_dim: int, out_dim: int, options: SpatialPoolOptions) -> None:
        super().__init__(in_dim, out_dim, options.act, options.bias)
        self.stride, self.pool_images = options.stride, options.pool_images
        self.keep_prefix = options.keep_prefix

    def pools(self, layout: TokenLayout) -> bool:
        """Whether items of ``layout`` are pooled (videos; images only with ``pool_images``)."""
        return layout.frames > 1 or self.pool_images

    def output_tokens(self, num_tokens: int, layout: TokenLayout | None = None) -> int:
        layout = require_layout(NAME, num_tokens, layout)
        if not self.pools(layout):
            return num_tokens
        return pooled_layout(layout, self.stride, self.keep_prefix).tokens

    def project(self, tokens: torch.Tensor, layout: TokenLayout | None = None) -> torch.Tensor:
        return self(tokens, layout)

    def forward(self, tokens: torch.Tensor, layout: TokenLayout | None = None) -> torch.Tensor:
        """``(N, L, D_in)`` items arranged as ``layout`` to ``(N, output_tokens(L, layout), D_out)``."""
        layout = checked_layout(NAME, tokens, layout)
        projected = self.layers(tokens)
        if not self.pools(layout):
            return projected
        return pool_frames(projected, layout, self.stride, self.keep_prefix)


def build(
    options: SpatialPoolOptions, in_dim: int, out_dim: int, context: BuildContext
) -> SpatialPoolProjector:
    """Factory registered as ``spatial_pool`` (the same projector whichever modality ``context`` names)."""
    return SpatialPoolProjector(in_dim, out_dim, options)


@hookimpl
def mmbind_projectors() -> list[ProjectorEntry]:
    return [
        ProjectorEntry(NAME, SpatialPoolOptions, build,
                       "mlp2x_gelu, then per-frame 2-D average pooling (LLaVA-Video, PLLaVA)")
    ]
