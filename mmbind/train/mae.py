"""mae.py

``kind: mae``: masked-autoencoder pre-training (He et al. 2022) of one of the model's image encoders (one
that supports masked encoding, `Encoder.masked_encode`: the ``mae`` plugin), for the separated-MAE baseline.

Per image: a random ``mask_ratio`` of the patches dropped (per sample, by sorting uniform noise drawn from the
sample's own seed: the same masks on any number of ranks and after a resume), the encoder run on what is
left (`Encoder.masked_encode`, geometry from `Encoder.masked_patch_grid`); a light decoder (`MaeDecoder`:
linear embed, learnable mask token and position embeddings, a few timm blocks, linear to pixels) reconstructs
every patch; the loss is the MSE on the MASKED patches only, against pixels normalised per patch
(``norm_pix_loss``), summed (the runner divides by the masked patches of the step). The encoder's weights
update in the stage's saved model;
the decoder is saved next to it in ``RUN/stages/<name>/mae_decoder/`` (not part of the model).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from timm.models.vision_transformer import Block
from torch import nn

from mmbind.data.collate import PairBatch
from mmbind.errors import RecipeError
from mmbind.interfaces import Encoder
from mmbind.recipe.stage_options import MaeDecoderSpec, MaeStageOptions
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


class MaeDecoder(nn.Module):
    """Visible tokens (+ mask tokens) to per-patch pixel predictions."""

    def __init__(
        self, spec: MaeDecoderSpec, enc_width: int, patches: int, prefix: int, patch_dim: int
    ) -> None:
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

    def __init__(self, encoder: Encoder, options: MaeStageOptions) -> None:
        super().__init__()
        self.encoder = encoder
        self.options = options
        grid = encoder.masked_patch_grid()
        self.patch = grid.patch
        self.patches = grid.patches
        spec = options.decoder
        if spec.width % spec.heads:
            raise RecipeError(f"decoder width {spec.width} is not a multiple of heads {spec.heads}")
        self.decoder = MaeDecoder(spec, grid.width, self.patches, grid.prefix, self.patch**2 * 3)
        self.keep = max(1, round(self.patches * (1 - options.mask_ratio)))
        self.encoder.requires_grad_(True)

    def forward(self, batch: PairBatch) -> tuple[torch.Tensor, dict[str, float]]:
        pixels = batch.pixels.to(next(self.encoder.parameters()).dtype)
        keep_ids, restore = random_keep(mask_noise(batch.seeds, self.patches, pixels.device), self.keep)
        pred = self.decoder(self.encoder.masked_encode(pixels, keep_ids), restore)
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
                "norm_pix_loss": self.options.norm_pix_loss, "patch_size": self.patch,
                "patches": self.patches}
        (target / "decoder.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def build_mae(model: Any, options: MaeStageOptions, where: str) -> MaeLoss:
    """The objective of an mae stage over the model's ``options.modality`` encoder."""
    encoder = model.encoders[options.modality]
    if encoder.temporal:
        raise RecipeError(f"{where}.options.modality: kind mae pre-trains an image encoder, "
                          f"{options.modality!r} reads videos")
    try:
        encoder.masked_patch_grid()
    except RecipeError as exc:
        raise RecipeError(f"{where}.options.modality: kind mae pre-trains an encoder with masked encoding "
                          f"(plugin mae): {exc}") from None
    try:
        return MaeLoss(encoder, options)
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
