"""frame_pool.py

Per-frame 2-D average pooling of an item's tokens arranged as a `TokenLayout` (used by the ``spatial_pool``
and ``slowfast`` projectors), and the layout it leaves.

Each frame's ``height x width`` patch grid is average-pooled with kernel = stride = ``stride`` in ceil mode:
a window reaching past the grid's edge averages only the tokens inside it (``torch.nn.functional
.avg_pool2d(ceil_mode=True, count_include_pad=False)``), so a side of ``n`` patches becomes ``ceil(n /
stride)``: 16 x 16 at stride 2 -> 8 x 8, 5 x 5 at stride 2 -> 3 x 3, 2 x 2 at stride 4 -> 1 x 1. Each
frame's ``prefix`` tokens (a kept CLS) are kept unpooled before its pooled grid, or dropped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmbind.errors import InputError, RecipeError
from mmbind.interfaces import TokenLayout


def pooled_side(size: int, stride: int) -> int:
    """Patches left of a side of ``size`` patches pooled with ``stride`` (ceil mode)."""
    return -(-size // stride)


def pooled_layout(layout: TokenLayout, stride: int, keep_prefix: bool = True) -> TokenLayout:
    """The layout of ``layout``'s tokens after `pool_frames`."""
    height, width = pooled_side(layout.height, stride), pooled_side(layout.width, stride)
    return TokenLayout(layout.frames, layout.prefix if keep_prefix else 0, height, width)


def pool_frames(
    tokens: torch.Tensor, layout: TokenLayout, stride: int, keep_prefix: bool = True
) -> torch.Tensor:
    """``(N, L, D)`` items arranged as ``layout`` to ``(N, pooled_layout(...).tokens, D)``: frame by frame,
    its prefix tokens (when kept) then its grid average-pooled with kernel = stride = ``stride``."""
    items, _, dim = tokens.shape
    frames = tokens.reshape(items * layout.frames, layout.per_frame, dim)
    prefix, grid = frames[:, : layout.prefix], frames[:, layout.prefix:]
    grid = grid.transpose(1, 2).reshape(-1, dim, layout.height, layout.width)
    pooled = F.avg_pool2d(grid, stride, stride, ceil_mode=True, count_include_pad=False)
    pooled = pooled.flatten(2).transpose(1, 2)  # (N * T, h' * w', D), row-major
    kept = torch.cat([prefix, pooled], dim=1) if keep_prefix and layout.prefix else pooled
    return kept.reshape(items, -1, dim)


def require_layout(projector: str, num_tokens: int, layout: TokenLayout | None) -> TokenLayout:
    """``layout``, or a `RecipeError` saying that ``projector`` needs the encoder to declare one."""
    if layout is None:
        raise RecipeError(
            f"projector {projector}: needs the arrangement of each item's tokens (frames, CLS, patch grid) "
            f"but the encoder declares none for its {num_tokens} tokens (Encoder.token_layout returned None: "
            "an encoder that does not implement it, or a token count that is not whole frames); use a "
            "projector that keeps every token (mlp2x_gelu, linear) or resampler"
        )
    return layout


def checked_layout(projector: str, tokens: torch.Tensor, layout: TokenLayout | None) -> TokenLayout:
    """`require_layout`, and an `InputError` unless ``tokens`` ``(N, L, D)`` hold ``layout.tokens`` tokens."""
    if tokens.ndim != 3:
        raise InputError(f"projector {projector}: expected tokens (N, L, D), got {tuple(tokens.shape)}")
    layout = require_layout(projector, tokens.shape[1], layout)
    if layout.tokens != tokens.shape[1]:
        raise InputError(
            f"projector {projector}: {tokens.shape[1]} tokens per item do not match their layout {layout} "
            f"({layout.tokens} tokens)"
        )
    return layout
