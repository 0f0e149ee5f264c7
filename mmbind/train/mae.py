"""mae.py

``kind: mae``: masked-autoencoder pre-training (He et al. 2022) of the model's timm ViT encoder (the ``mae``
plugin, or any encoder exposing a timm ``VisionTransformer`` as ``.vit``), for the separated-MAE baseline.

Per image: patch embeddings plus position embeddings, a random ``mask_ratio`` of the patches dropped (per
sample, by sorting uniform noise drawn from the sample's own seed: the same masks on any number of ranks and
after a resume), the class token prepended, the ViT blocks and final norm run on what is
left; a light decoder (`MaeDecoder`: linear embed, learnable mask token and position embeddings, a few timm
blocks, linear to pixels) reconstructs every patch; the loss is the MSE on the MASKED patches only, against
pixels normalised per patch (``norm_pix_loss``), summed (the runner divides by the masked patches of the step). The encoder's weights update in the stage's saved model;
the decoder is saved next to it in ``RUN/stages/<name>/mae_decoder/`` (not part of the model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from timm.models.vision_transformer import Block, VisionTransformer
from torch import nn

from mmbind.errors import RecipeError
from mmbind.recipe.stage_options import MaeDecoderSpec, MaeStageOptions
from mmbind.interfaces import Encoder
from mmbind.train.caption_data import PairBatch
from mmbind.train.pair_stage import PairObjective

DECODER_DIR = "mae_decoder"


def patchify(pixels: torch.Tensor, patch: int) -> torch.Tensor:
    """``(N, 3, H, W)`` to ``(N, L, patch*patch*3)`` in the patch embedding's (row-major) order."""
    n, c, h, w = pixels.shape
    grid = pixels.reshape(n, c, h // patch, patch, w // patch, patch)
    return grid.permute(0, 2, 4, 3, 5, 1).reshape(n, (h // patch) * (w // patch), patch * patch * c)


def mask_noise(seeds: list[int], length: int, device: torch.device) -> torch.Tensor:
    """Uniform noise ``(n, length)``, row ``i`` drawn from ``seeds[i]`` alone."""
    rows = [torch.rand(length, generator=torch.Generator().manual_seed(seed)) for seed in seeds]
    return torch.stack(rows).to(device) if rows else torch.zeros((0, length), device=device)


def random_keep(noise: torch.Tensor, keep: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample random subsets from ``noise`` ``(n, length)``: (kept patch ids ``(n, keep)``, restore order
    ``(n, length)``)."""
    shuffle = noise.argsort(dim=1)
    return shuffle[:, :keep], shuffle.argsort(dim=1)


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


class MaeDecoder(nn.Module):
    """Visible tokens (+ mask tokens) to per-patch pixel predictions."""

    def __init__(self, spec: MaeDecoderSpec, enc_width: int, patches: int, prefix: int, patch_dim: int) -> None:
        super().__init__()
        self.prefix = prefix  # prefix tokens (class / register) at the front of the encoder output
        self.embed = nn.Linear(enc_width, spec.width)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, spec.width))
        self.pos_embed = nn.Parameter(torch.zeros(1, prefix + patches, spec.width))
        self.blocks = nn.ModuleList(Block(spec.width, spec.heads, spec.mlp_ratio, qkv_bias=True)
                                    for _ in range(spec.depth))
        self.norm = nn.LayerNorm(spec.width)
        self.pred = nn.Linear(spec.width, patch_dim)
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.02)

    def forward(self, visible: torch.Tensor, restore: torch.Tensor) -> torch.Tensor:
        x = self.embed(visible)
        head, body = x[:, : self.prefix], x[:, self.prefix:]
        missing = restore.shape[1] - body.shape[1]
        body = torch.cat([body, self.mask_token.expand(len(x), missing, -1)], dim=1)
        body = torch.gather(body, 1, restore.unsqueeze(-1).expand(-1, -1, body.shape[-1]))
        x = torch.cat([head, body], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.pred(self.norm(x))[:, self.prefix:]


class MaeLoss(nn.Module):
    """Encoder + decoder; ``forward(batch) -> (loss sum over masked patches, metrics)``."""

    def __init__(self, vit: VisionTransformer, options: MaeStageOptions) -> None:
        super().__init__()
        self.vit = vit
        self.options = options
        self.patch = int(vit.patch_embed.patch_size[0])
        self.patches = int(vit.patch_embed.num_patches)
        spec = options.decoder
        if spec.width % spec.heads:
            raise RecipeError(f"decoder width {spec.width} is not a multiple of heads {spec.heads}")
        prefix = vit.num_prefix_tokens
        self.decoder = MaeDecoder(spec, vit.embed_dim, self.patches, prefix, self.patch**2 * 3)
        self.keep = max(1, round(self.patches * (1 - options.mask_ratio)))
        self.vit.requires_grad_(True)

    def forward(self, batch: PairBatch) -> tuple[torch.Tensor, dict[str, float]]:
        pixels = batch.pixels.to(self.vit.patch_embed.proj.weight.dtype)
        keep_ids, restore = random_keep(mask_noise(batch.seeds, self.patches, pixels.device), self.keep)
        pred = self.decoder(encode_visible(self.vit, pixels, keep_ids), restore)
        target = patchify(pixels, self.patch)
        if self.options.norm_pix_loss:
            mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6).sqrt()
        per_patch = ((pred.float() - target.float()) ** 2).mean(dim=-1)
        masked = torch.ones_like(per_patch)
        masked.scatter_(1, keep_ids, 0.0)
        return (per_patch * masked).sum(), {"visible_patches": float(self.keep)}

    def save(self, directory: Path) -> None:
        """Write the decoder (weights + its settings) into ``directory/mae_decoder``."""
        target = directory / DECODER_DIR
        target.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.decoder.state_dict().items()}
        save_file(state, str(target / "decoder.safetensors"))
        meta = {"decoder": self.options.decoder.model_dump(), "mask_ratio": self.options.mask_ratio,
                "norm_pix_loss": self.options.norm_pix_loss, "patch_size": self.patch, "patches": self.patches}
        (target / "decoder.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def build_mae(model: Any, options: MaeStageOptions, where: str) -> MaeLoss:
    """The objective of an mae stage over the model's ``options.modality`` encoder."""
    encoder = model.encoders[options.modality]
    vit = getattr(encoder, "vit", None)
    if not isinstance(vit, VisionTransformer):
        raise RecipeError(f"{where}.options.modality: kind mae pre-trains a timm ViT encoder (plugin mae); "
                          f"the {options.modality} encoder is {type(encoder).__name__}")
    if encoder.item_shape[0] is None:
        raise RecipeError(f"{where}.options.modality: kind mae pre-trains an image encoder, "
                          f"{options.modality!r} reads videos")
    if getattr(vit, "dynamic_img_size", False):
        raise RecipeError(f"{where}: kind mae needs a fixed image size (dynamic_img_size: false)")
    try:
        return MaeLoss(vit, options)
    except RecipeError as exc:
        raise RecipeError(f"{where}.options.decoder: {exc}") from None


class MaeObjective(PairObjective):
    """``kind: mae`` as an `Objective`: the loss sum over masked patches, divided by their count; writes
    ``mae_decoder/`` with the model."""

    kind = "mae"

    def build(self, model: Any) -> tuple[nn.Module, Encoder, Any, int]:
        self.mae = build_mae(model, self.options, self.ctx.where)
        return self.mae, model.encoders[self.options.modality], None, 0

    def count(self, batch: PairBatch) -> int:
        return len(batch.ids) * (self.mae.patches - self.mae.keep)

    def save_extra(self, directory: Path) -> None:
        self.mae.save(directory)
