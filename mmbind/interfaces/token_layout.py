"""token_layout.py

`TokenLayout`: how an encoder's ``L`` output tokens for one item are arranged, for projectors that compress
tokens by their place (per-frame spatial pooling, slow-fast paths). Tokens are frame-major: ``frames``
blocks, each ``prefix`` tokens (e.g. a kept CLS token) followed by a ``height`` x ``width`` patch grid in
row-major order, so ``L = frames * (prefix + height * width)``. An image is one frame.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TokenLayout:
    """The arrangement of one item's tokens."""

    frames: int  # frame blocks (1 for an image)
    prefix: int  # tokens before each frame's grid (a kept CLS token: 1)
    height: int  # patch rows per frame
    width: int  # patch columns per frame

    @property
    def per_frame(self) -> int:
        """Tokens of one frame block."""
        return self.prefix + self.height * self.width

    @property
    def tokens(self) -> int:
        """Tokens of the whole item."""
        return self.frames * self.per_frame

    @classmethod
    def of(cls, num_tokens: int, prefix: int, height: int, width: int) -> TokenLayout | None:
        """The layout of ``num_tokens`` tokens made of whole frames of this geometry, else None."""
        per_frame = prefix + height * width
        if num_tokens < per_frame or num_tokens % per_frame:
            return None
        return cls(num_tokens // per_frame, prefix, height, width)
