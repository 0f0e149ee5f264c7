"""timm_masked.py

Masked encoding of a timm ``VisionTransformer`` (MAE pre-training, He et al. 2022), what the ``mae``
encoder offers as `Encoder.masked_encode`: patch embeddings plus position embeddings, only the kept patches
gathered, the prefix tokens (class / register) prepended, then the blocks and the final norm.
"""

from __future__ import annotations

import torch
from timm.models.vision_transformer import VisionTransformer


def encode_visible(vit: VisionTransformer, pixels: torch.Tensor, keep_ids: torch.Tensor) -> torch.Tensor:
    """The ViT on the kept patches only: ``(N, prefix + keep, D)`` after the final norm."""
    x = vit.patch_embed(pixels)
    prefix_pos, patch_pos = (None, vit.pos_embed) if vit.no_embed_class else (
        vit.pos_embed[:, : vit.num_prefix_tokens], vit.pos_embed[:, vit.num_prefix_tokens:])
    x = x + patch_pos
    x = torch.gather(x, 1, keep_ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
    prefix = [t.expand(len(x), -1, -1) for t in (vit.cls_token, vit.reg_token) if t is not None]
    if prefix:
        tokens = torch.cat(prefix, dim=1)
        x = torch.cat([tokens + prefix_pos if prefix_pos is not None else tokens, x], dim=1)
    x = vit.norm_pre(vit.pos_drop(x))
    for block in vit.blocks:
        x = block(x)
    return vit.norm(x)
