"""``kind: mae`` stages: the masked encoder pass matches timm's on all patches, patch order and masking are
right, and a real run on the tiny synthetic dataset lowers the reconstruction loss, changes only the image
encoder in the saved model and saves the decoder next to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import timm
import torch
import yaml
from safetensors.torch import load_file

import mmbind
from mmbind.errors import RecipeError
from mmbind.model.weights import load_state_dict
from mmbind.recipe.stage_options import MaeStageOptions
from mmbind.train import train
from mmbind.train.mae import MaeLoss, mask_noise, patchify, random_keep
from mmbind.train.metrics import MetricsLog
from mmbind_plugins.encoders import timm_mae
from mmbind_plugins.encoders.timm_masked import encode_visible
from tests.support.train import make_data

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "mmbind" / "recipes" / "tiny" / "video_llava.yaml"
MAE_IMAGE = {"plugin": "mae", "options": {
    "model": "vit_base_patch16_224.mae", "select_layer": -2,
    "config": {"img_size": 28, "patch_size": 7, "embed_dim": 32, "depth": 2, "num_heads": 4, "mlp_ratio": 2}}}
MAE_STAGE = {"kind": "mae", "dataset": "captions", "lr": 2.0e-3, "global_batch": 8, "warmup_ratio": 0.0,
             "max_steps": 30, "options": {"modality": "image"}}


def recipe(data: Path, stages: dict, image: dict | None = MAE_IMAGE) -> mmbind.Recipe:
    """The tiny Video-LLaVA (image encoder: a tiny timm MAE ViT) on ``data``."""
    model: dict = {"llm": {"options": {"tokenizer": str(data / "tokenizer")}}}
    if image is not None:
        model["encoders"] = {"image": image}
    raw = {"base": str(TINY), "model": model, "stages": stages,
           "data": {"video_frames": 4, "datasets": {"captions": {
               "template": "plain", "files": [{"path": str(data / "pretrain.json")}]}}}}
    path = data / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return mmbind.load_recipe(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data"), images=16, videos=2, text_only=0)


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(0)
    return timm.create_model("vit_base_patch16_224.mae", pretrained=False,
                             **MAE_IMAGE["options"]["config"]).eval()


def test_masked_pass_on_all_patches_is_timms_forward(vit):
    pixels = torch.randn(2, 3, 28, 28)
    everything = torch.arange(16).expand(2, -1)
    assert torch.allclose(encode_visible(vit, pixels, everything), vit.forward_features(pixels), atol=1e-6)
    # keeping patches in another order is the same computation on the gathered tokens (no position mix-up)
    order = torch.randperm(16).expand(2, -1)
    shuffled = encode_visible(vit, pixels, order)
    assert torch.allclose(shuffled[:, 1:].sum(1), vit.forward_features(pixels)[:, 1:].sum(1), atol=1e-4)


def test_patchify_follows_the_patch_embedding_order(vit):
    pixels = torch.randn(1, 3, 28, 28)
    conv = vit.patch_embed.proj
    # (D, p*p*3) in (row, col, rgb) order
    flat = conv.weight.permute(0, 2, 3, 1).reshape(conv.out_channels, -1)
    expected = vit.patch_embed(pixels)
    assert torch.allclose(patchify(pixels, 7) @ flat.t() + conv.bias, expected, atol=1e-5)


def test_random_keep_is_a_permutation_and_its_inverse():
    keep, restore = random_keep(mask_noise([0, 1, 2], 16, torch.device("cpu")), 4)
    assert keep.shape == (3, 4) and all(len(set(row.tolist())) == 4 for row in keep)
    shuffle = restore.argsort(dim=1)
    assert torch.equal(torch.gather(shuffle, 1, restore), torch.arange(16).expand(3, -1))
    assert torch.equal(shuffle[:, :4], keep)


def test_loss_counts_only_masked_patches(vit):
    options = MaeStageOptions(modality="image", mask_ratio=0.75)
    encoder = timm_mae.MaeEncoder(vit, "vit_base_patch16_224.mae", {}, timm_mae.MaeOptions(frozen=False),
                                  "image")
    objective = MaeLoss(encoder, options)
    assert objective.keep == 4 and objective.patches == 16
    torch.manual_seed(0)
    images = torch.randn(2, 3, 28, 28)

    class Batch:
        pixels = images
        seeds = [5, 6]

    loss, _ = objective(Batch())
    keep, restore = random_keep(mask_noise([5, 6], 16, torch.device("cpu")), 4)
    pred = objective.decoder(encode_visible(vit, images, keep), restore)
    target = patchify(images, 7)
    target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6).sqrt()
    per_patch = ((pred - target) ** 2).mean(-1)
    hidden = torch.ones(2, 16, dtype=torch.bool)
    hidden[torch.arange(2).unsqueeze(1), keep] = False
    # summed: the runner divides
    assert loss.item() == pytest.approx(per_patch[hidden].sum().item(), rel=1e-5)


def test_masks_depend_on_the_sample_seed_only():
    device = torch.device("cpu")
    both = mask_noise([3, 4], 16, device)
    assert torch.equal(both[1], mask_noise([4], 16, device)[0])  # not on the batch it shares
    assert not torch.equal(both[0], both[1])


def test_mae_needs_a_timm_vit(data, tmp_path):
    rec = recipe(data, {"mae": MAE_STAGE}, image=None)  # the LanguageBind image tower
    with pytest.raises(RecipeError,
                       match=r"stages\.mae\.options\.modality: kind mae pre-trains an encoder with "
                             r"masked encoding \(plugin mae\): encoder LanguageBindImageEncoder "
                             r"does not support masked encoding"):
        train(rec, tmp_path / "run", progress=False)
    bad = {**MAE_STAGE, "options": {"modality": "image", "decoder": {"width": 30, "heads": 4}}}
    with pytest.raises(RecipeError,
                       match=r"stages\.mae\.options\.decoder: decoder width 30 is not a multiple"):
        train(recipe(data, {"mae": bad}), tmp_path / "run2", progress=False)


@pytest.mark.slow
def test_mae_stage_trains_the_image_encoder_only(data, tmp_path):
    rec = recipe(data, {"mae_image": MAE_STAGE})
    before = mmbind.build_model(rec).state_dict()
    summary = train(rec, tmp_path / "run", progress=False)
    assert summary["stages"]["mae_image"]["steps"] == 30
    rows = MetricsLog(tmp_path / "run").records()
    losses = [r["loss"] for r in rows]
    assert rows[0]["kind"] == "mae" and len(losses) == 30
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5
    out = tmp_path / "run" / "stages" / "mae_image"
    after = load_state_dict(out)[0]
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("encoders.image.vit.") for k in changed)
    assert any("blocks.0.attn.qkv" in k for k in changed)
    decoder = load_file(str(out / "mae_decoder" / "decoder.safetensors"))
    assert decoder["mask_token"].shape == (1, 1, 32) and decoder["pred.weight"].shape == (7 * 7 * 3, 32)
    assert json.loads((out / "mae_decoder" / "decoder.json").read_text())["mask_ratio"] == 0.75
    assert not any(k.startswith("decoder") or "mask_token" in k for k in after)  # not part of the model
    reloaded = mmbind.load_pretrained(out)
    assert torch.equal(reloaded.encoders["image"].vit.patch_embed.proj.weight,
                       after["encoders.image.vit.patch_embed.proj.weight"])
