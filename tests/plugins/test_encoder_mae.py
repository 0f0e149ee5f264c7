"""The ``mae`` encoder (timm MAE ViTs): tokens, layer choice, local weights, preprocessing, save / load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

import mmbind
from mmbind.interfaces import BuildContext
from mmbind.recipe.paths import resolve_recipe_path
from mmbind_plugins.encoders import timm_mae

TINY = {"img_size": 32, "embed_dim": 64, "depth": 3, "num_heads": 2}


def build(modality: str = "image", seed: int = 0, **options) -> timm_mae.MaeEncoder:
    torch.manual_seed(seed)
    options = {"model": "vit_base_patch16_224.mae", "config": TINY, **options}
    context = BuildContext(modality=modality, temporal=modality == "video")
    return timm_mae.build(timm_mae.MaeOptions(**options), context)


def hooked(encoder: timm_mae.MaeEncoder, block: int, frames: torch.Tensor) -> torch.Tensor:
    """Output of ``vit.blocks[block]`` for ``frames``, caught by a forward hook."""
    caught = []
    handle = encoder.vit.blocks[block].register_forward_hook(lambda m, i, o: caught.append(o))
    with torch.no_grad():
        encoder.vit(frames)
    handle.remove()
    return caught[0]


@pytest.fixture(scope="module")
def image_encoder() -> timm_mae.MaeEncoder:
    return build().eval()


def test_shapes_and_token_counts(image_encoder):
    assert image_encoder.output_dim == 64 and image_encoder.item_shape == (3, 32, 32)
    assert image_encoder.tokens_per_item() == 4  # (32 / 16) ** 2 patches, CLS dropped by default
    assert image_encoder(torch.randn(2, 3, 32, 32)).shape == (2, 4, 64)
    assert build(keep_cls=True).tokens_per_item() == 5
    video = build("video")
    assert video.item_shape == (None, 3, 32, 32) and video.tokens_per_item(num_frames=3) == 12
    assert video(torch.randn(2, 3, 3, 32, 32)).shape == (2, 12, 64)
    assert build("video", keep_cls=True).tokens_per_item(num_frames=3) == 15
    assert not any(p.requires_grad for p in image_encoder.parameters())
    assert all(p.requires_grad for p in build(frozen=False).parameters())


@pytest.mark.parametrize("select_layer, block", [(-2, 1), (-1, 2), (1, 0), (3, 2)])
def test_layer_selection_matches_a_hook_on_blocks(select_layer, block):
    encoder = build(select_layer=select_layer, keep_cls=True).eval()
    frames = torch.randn(2, 3, 32, 32)
    expected = hooked(encoder, block, frames)
    assert expected.shape == (2, 5, 64)  # (B, CLS + N, D), before the final norm
    with torch.no_grad():
        torch.testing.assert_close(encoder(frames), expected, rtol=0, atol=0)
        torch.testing.assert_close(build(select_layer=select_layer).eval()(frames), expected[:, 1:],
                                   rtol=0, atol=0)


def test_layer_lists_and_range_errors():
    encoder = build(select_layer=[-1, 1]).eval()
    frames = torch.randn(1, 3, 32, 32)
    expected = torch.cat([hooked(encoder, 2, frames), hooked(encoder, 0, frames)], dim=-1)[:, 1:]
    assert encoder.output_dim == 128
    with torch.no_grad():
        torch.testing.assert_close(encoder(frames), expected, rtol=0, atol=0)
    with pytest.raises(mmbind.PluginOptionsError,
                       match=r"mae: options.select_layer -4 is out of range for a model of 3 blocks "
                             r"\(use -3..-1 or 1..3\)"):
        build(select_layer=-4)
    with pytest.raises(mmbind.PluginOptionsError, match=r"mae: options.select_layer 0 is out of range"):
        build(select_layer=0)


def test_video_is_encoded_frame_by_frame_frame_major():
    encoder = build("video", keep_cls=True).eval()
    videos = torch.randn(2, 3, 3, 32, 32)
    with torch.no_grad():
        tokens = encoder(videos)
        for n in range(2):
            for t in range(3):
                expected = hooked(encoder, 1, videos[n, t : t + 1])[0]
                torch.testing.assert_close(tokens[n, t * 5 : (t + 1) * 5], expected, rtol=1e-5, atol=1e-6)


def test_deterministic_under_seed(image_encoder):
    frames = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(build(seed=0).eval()(frames), image_encoder(frames))
        assert not torch.equal(build(seed=1).eval()(frames), image_encoder(frames))


def test_original_mae_pretraining_checkpoint_loads_without_its_decoder(image_encoder, tmp_path):
    encoder_state = image_encoder.vit.state_dict()
    decoder = {"mask_token": torch.zeros(1, 1, 32), "decoder_embed.weight": torch.zeros(32, 64),
               "decoder_pred.bias": torch.zeros(768), "decoder_blocks.0.norm1.weight": torch.ones(32)}
    torch.save({"model": {**encoder_state, **decoder}, "epoch": 799}, tmp_path / "mae_pretrain.pth")
    loaded = build(seed=7, weights=str(tmp_path / "mae_pretrain.pth")).eval()
    frames = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(frames), image_encoder(frames))
    torch.save(encoder_state, tmp_path / "plain.pt")  # a timm state dict without wrapper
    with torch.no_grad():
        assert torch.equal(build(seed=8, weights=str(tmp_path / "plain.pt")).eval()(frames),
                           image_encoder(frames))


def test_strict_loading_errors(image_encoder, tmp_path):
    state = dict(image_encoder.vit.state_dict())
    del state["blocks.2.mlp.fc2.bias"]
    torch.save({"model": state}, tmp_path / "missing.pth")
    with pytest.raises(mmbind.CheckpointError,
                       match=r"mae: .*missing.pth: weights do not match the model: 1 missing "
                             r"\(blocks.2.mlp.fc2.bias\)$"):
        build(weights=str(tmp_path / "missing.pth"))
    # a fine-tuned classifier
    state = dict(image_encoder.vit.state_dict(), **{"head.weight": torch.zeros(1000, 64)})
    torch.save(state, tmp_path / "finetuned.pth")
    with pytest.raises(mmbind.CheckpointError,
                       match=r"weights do not match the model: 1 unexpected \(head.weight\)$"):
        build(weights=str(tmp_path / "finetuned.pth"))
    with pytest.raises(mmbind.CheckpointError,
                       match=r"nope.pth: no such file or directory "
                             r"\(weights are read from local paths only\)"):
        build(weights=str(tmp_path / "nope.pth"))


def test_bad_names_and_options():
    with pytest.raises(mmbind.PluginOptionsError,
                       match=r"mae: options.model 'vit_base_patch16_224.mea' is not a timm model; "
                             r"did you mean .*vit_base_patch16_224.mae"):
        build(model="vit_base_patch16_224.mea")
    with pytest.raises(mmbind.PluginOptionsError,
                       match=r"mae: options.config.pretrained: weights come from options.weights only"):
        build(config={**TINY, "pretrained": True})
    with pytest.raises(mmbind.PluginOptionsError,
                       match=r"mae: options.model 'vit_base_patch16_224.mae' / options.config: "
                             r".*unexpected keyword argument 'bogus'"):
        build(config={**TINY, "bogus": 1})
    with pytest.raises(mmbind.PluginOptionsError,
                       match=r"mae: 'resnet18' is a ResNet; only timm VisionTransformers are supported"):
        build(model="resnet18", config={})


def test_media_transform_matches_timm_eval_preprocessing(image_encoder):
    from timm.data import create_transform, resolve_data_config

    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8))
    ours = image_encoder.media_transform()
    assert (ours.size, ours.crop_pct, ours.interpolation) == (32, 0.9, "bicubic")
    assert ours.mean == mmbind.media.IMAGENET_MEAN and ours.std == mmbind.media.IMAGENET_STD
    data_config = {**resolve_data_config({}, model=image_encoder.vit), "input_size": (3, 32, 32)}
    reference = create_transform(**data_config)  # Resize(35, bicubic) -> CenterCrop(32) -> Normalize
    torch.testing.assert_close(ours(image), reference(image), rtol=0, atol=1e-5)
    video_transform = build("video").media_transform()
    assert video_transform.crop_pct == 0.9
    assert video_transform(np.zeros((2, 300, 400, 3), dtype=np.uint8)).shape == (2, 3, 32, 32)


def test_save_pretrained_round_trip_with_the_tiny_video_llava_parts(tmp_path):
    data = yaml.safe_load(resolve_recipe_path("tiny/hf_video_llava").read_text())
    options = {"model": "vit_base_patch16_224.mae", "config": {**TINY, "embed_dim": 48}, "keep_cls": True}
    data["model"]["encoders"]["image"] = {"plugin": "mae", "options": options}
    with pytest.raises(mmbind.RecipeError,
                       match=r"one projector cannot serve encoders of different widths "
                             r"\(image 48, video 32\)"):
        mmbind.build_model(mmbind.recipe_from_dict(data))
    data["model"]["projector"]["shared"] = False
    model = mmbind.build_model(mmbind.recipe_from_dict(data)).eval()
    model.save_pretrained(tmp_path / "ckpt")
    spec = json.loads((tmp_path / "ckpt" / "encoders" / "image" / timm_mae.ARTIFACT).read_text())
    assert spec == {"model": "vit_base_patch16_224.mae", "config": {**TINY, "embed_dim": 48}}
    loaded = mmbind.load_pretrained(tmp_path / "ckpt")
    assert (isinstance(loaded.encoders["image"], timm_mae.MaeEncoder)
            and set(loaded.projectors) == {"image", "video"})
    ids = torch.tensor([[1, model.config.placeholder_ids["image"], 5, model.config.placeholder_ids["video"]]])
    images, videos = torch.randn(1, 3, 32, 32), torch.randn(1, 2, 3, 28, 28)
    with torch.no_grad():
        before = model(ids, images=images, videos=videos).logits
        assert torch.equal(before, loaded(ids, images=images, videos=videos).logits)
    assert before.shape[1] == 4 - 2 + 5 + 2 * 5  # CLS + 4 image patches; 2 frames x (CLS + 4 patches)
    artifact = tmp_path / "ckpt" / "encoders" / "image" / timm_mae.ARTIFACT
    artifact.write_text("[1, 2]")
    with pytest.raises(mmbind.CheckpointError, match=r"timm_mae\.json: expected a JSON object, got list$"):
        mmbind.load_pretrained(tmp_path / "ckpt")
    artifact.write_text("{not json")
    with pytest.raises(mmbind.CheckpointError, match=r"timm_mae\.json: unreadable mae artifact \(Expecting"):
        mmbind.load_pretrained(tmp_path / "ckpt")


def test_registered_as_an_entry_point():
    entry = mmbind.default_registry().get("encoder", "mae")
    assert entry.accepts("image") and entry.accepts("video") and not entry.accepts("audio")
