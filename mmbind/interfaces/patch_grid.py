"""patch_grid.py

`PatchGrid`: the patch geometry an encoder that supports masked encoding (MAE pre-training) declares.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PatchGrid:
    """How an image encoder cuts an image into patches and what its masked encoding returns."""

    patch: int  # patch side in pixels (square patches, row-major order)
    patches: int  # patches per image
    prefix: int  # tokens (class / register) in front of the patch tokens of `Encoder.masked_encode`
    width: int  # width of the tokens `Encoder.masked_encode` returns
