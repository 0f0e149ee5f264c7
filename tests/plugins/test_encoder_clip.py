"""The ``clip`` encoder (OpenCLIP vision towers): tokens, layer choice, local weights, save / load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import save_file

import mmbind
from mmbind.interfaces import BuildContext
from mmbind.recipe.paths import resolve_recipe_path
from mmbind_plugins.encoders import open_clip_encoder as oc

TINY = {"embed_dim": 32,
        "vision_cfg": {"image_size": 28, "layers": 3, "width": 64, "head_width": 32, "patch_size": 14}}


def build(modality: str = "image", seed: int = 0, **options) -> oc.OpenClipEncoder:
    torch.manual_seed(seed)
    return oc.build(oc.OpenClipOptions(model="ViT-L-14", config=TINY, **options),
                    BuildContext(modality=modality, temporal=modality == "video"))


def hooked(encoder: oc.OpenClipEncoder, block: int, frames: torch.Tensor) -> torch.Tensor:
    """Output of ``visual.transformer.resblocks[block]`` for ``frames``, caught by a forward hook."""
    caught = []
    handle = encoder.visual.transformer.resblocks[block].register_forward_hook(
        lambda m, i, o: caught.append(o)
    )
    with torch.no_grad():
        encoder.visual(frames)
    handle.remove()
    return caught[0]


@pytest.fixture(scope="module")
def image_encoder() -> oc.OpenClipEncoder:
    return build().eval()


def test_shapes_and_token_counts(image_encoder):
    assert image_encoder.output_dim == 64 and image_encoder.item_shape == (3, 28, 28)
    assert image_encoder.tokens_per_item() == 4  # (28 / 14) ** 2 patches, CLS dropped for images
    assert image_encoder(torch.randn(2, 3, 28, 28)).shape == (2, 4, 64)
    video = build("video")
    assert video.item_shape == (None, 3, 28, 28) and video.tokens_per_item(num_frames=3) == 15  # CLS kept
    assert video(torch.randn(2, 3, 3, 28, 28)).shape == (2, 15, 64)
    assert build("video", keep_cls=False).tokens_per_item(num_frames=3) == 12
    assert len(image_encoder.visual.transformer.resblocks) == 3 and not hasattr(image_encoder, "text")
    assert not any(p.requires_grad for p in image_encoder.parameters())
    assert all(p.requires_grad for p in build(frozen=False).parameters())


@pytest.mark.parametrize("select_layer, block", [(-2, 1), (-1, 2), (1, 0), (-3, 0)])
def test_layer_selection_matches_a_hook_on_resblocks(select_layer, block):
    encoder = build(select_layer=select_layer, keep_cls=True).eval()
    frames = torch.randn(2, 3, 28, 28)
    expected = hooked(encoder, block, frames)
    assert expected.shape == (2, 5, 64)  # batch-first (B, 1 + N, D)
    with torch.no_grad():
        torch.testing.assert_close(encoder(frames), expected, rtol=0, atol=0)
        torch.testing.assert_close(build(select_layer=select_layer).eval()(frames), expected[:, 1:],
                                   rtol=0, atol=0)


def test_hidden_states_convention_and_layer_lists():
    assert oc._block_index(-2, 24) == 22  # ViT-L/14: HF hidden_states[-2] is OpenCLIP block 22 of 24
    assert oc._block_index(24, 24) == 23 and oc._block_index(1, 24) == 0
    encoder = build(select_layer=[-1, -3]).eval()
    frames = torch.randn(1, 3, 28, 28)
    expected = torch.cat([hooked(encoder, 2, frames), hooked(encoder, 0, frames)], dim=-1)[:, 1:]
    assert encoder.output_dim == 128
    with torch.no_grad():
        torch.testing.assert_close(encoder(frames), expected, rtol=0, atol=0)
    for bad in (0, 4, -4):
        with pytest.raises(mmbind.PluginOptionsError,
                           match=rf"clip: options.select_layer {bad} is out of range for a tower of 3 blocks "
                                 r"\(use -3..-1 or 1..3\)"):
            build(select_layer=bad)


def test_video_is_encoded_frame_by_frame_frame_major():
    encoder = build("video").eval()
    videos = torch.randn(2, 3, 3, 28, 28)
    with torch.no_grad():
        tokens = encoder(videos)
        for n in range(2):
            for t in range(3):
                expected = hooked(encoder, 1, videos[n, t : t + 1])[0]  # 5 tokens: CLS + 4 patches
                torch.testing.assert_close(tokens[n, t * 5 : (t + 1) * 5], expected, rtol=1e-5, atol=1e-6)


def test_deterministic_under_seed(image_encoder):
    frames = torch.randn(1, 3, 28, 28)
    with torch.no_grad():
        assert torch.equal(build(seed=0).eval()(frames), image_encoder(frames))
        assert not torch.equal(build(seed=1).eval()(frames), image_encoder(frames))


def test_weights_from_a_local_full_clip_or_visual_file(tmp_path):
    import open_clip

    torch.manual_seed(5)
    clip = open_clip.create_model("ViT-L-14", pretrained=None, **TINY, text_cfg=oc._PLACEHOLDER_TEXT).eval()
    torch.save({"state_dict": {f"module.{k}": v for k, v in clip.state_dict().items()}}, tmp_path / "full.pt")
    save_file({k: v.contiguous() for k, v in clip.visual.state_dict().items()},
              str(tmp_path / "visual.safetensors"))
    frames = torch.randn(2, 3, 28, 28)
    reference = []
    handle = clip.visual.transformer.resblocks[1].register_forward_hook(lambda m, i, o: reference.append(o))
    with torch.no_grad():
        clip.visual(frames)
    handle.remove()
    for name in ("full.pt", "visual.safetensors"):
        loaded = build(seed=9, weights=str(tmp_path / name)).eval()
        with torch.no_grad():
            assert torch.equal(loaded(frames), reference[0][:, 1:])


def test_strict_loading_errors(image_encoder, tmp_path):
    state = dict(image_encoder.visual.state_dict())
    del state["ln_post.bias"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(mmbind.CheckpointError,
                       match=r"clip: .*missing.pth: weights do not match the model: 1 missing "
                             r"\(ln_post.bias\)$"):
        build(weights=str(tmp_path / "missing.pth"))
    state = dict(image_encoder.visual.state_dict(), extra_head=torch.zeros(1))
    torch.save(state, tmp_path / "unexpected.pth")
    with pytest.raises(mmbind.CheckpointError,
                       match=r"weights do not match the model: 1 unexpected \(extra_head\)$"):
        build(weights=str(tmp_path / "unexpected.pth"))
    state = dict(image_encoder.visual.state_dict(), proj=torch.zeros(3, 3))
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(mmbind.CheckpointError,
                       match=r"proj has shape \(3, 3\), the model expects \(64, 32\)"):
        build(weights=str(tmp_path / "shape.pth"))
    with pytest.raises(mmbind.CheckpointError,
                       match=r"nope.pt: no such file or directory "
                             r"\(weights are read from local paths only\)"):
        build(weights=str(tmp_path / "nope.pt"))


def test_bad_model_names():
    with pytest.raises(mmbind.PluginOptionsError,
                       match=r"clip: options.model 'ViT-L-41' is not an OpenCLIP model; "
                             r"did you mean .*ViT-L-14"):
        oc.build(oc.OpenClipOptions(model="ViT-L-41"), BuildContext(modality="image"))
    with pytest.raises(mmbind.PluginOptionsError, match=r"hub and directory schemas are not supported"):
        oc.build(oc.OpenClipOptions(model="hf-hub:laion/CLIP-ViT-L-14"), BuildContext(modality="image"))
    with pytest.raises(mmbind.PluginOptionsError,
                       match=r"clip: 'RN50' has a ModifiedResNet image tower; only OpenCLIP ViT towers"):
        oc.build(oc.OpenClipOptions(model="RN50",
                                    config={"vision_cfg": {"layers": [1, 1, 1, 1], "width": 8,
                                                           "image_size": 32},
                                            "embed_dim": 16}),
                 BuildContext(modality="image"))


def test_media_transform_uses_the_model_geometry_and_openai_stats(image_encoder):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8))
    transform = image_encoder.media_transform()
    assert transform.size == 28 and transform.interpolation == "bicubic"
    assert transform.mean == mmbind.media.OPENAI_CLIP_MEAN and transform.std == mmbind.media.OPENAI_CLIP_STD
    assert transform(image).shape == (3, 28, 28)
    frames = np.zeros((4, 40, 60, 3), dtype=np.uint8)
    assert build("video").media_transform()(frames).shape == (4, 3, 28, 28)


def test_save_pretrained_round_trip_with_the_tiny_video_llava_parts(tmp_path):
    vision_cfg = {**TINY["vision_cfg"], "width": 32, "head_width": 16}  # as wide as the tiny video tower
    config = {"embed_dim": 16, "vision_cfg": vision_cfg}
    torch.manual_seed(3)
    tower = oc.build(oc.OpenClipOptions(config=config), BuildContext(modality="image")).visual
    torch.save(tower.state_dict(), tmp_path / "tower.pt")
    data = yaml.safe_load(resolve_recipe_path("tiny/hf_video_llava").read_text())
    options = {"model": "ViT-L-14", "config": config, "weights": str(tmp_path / "tower.pt")}
    data["model"]["encoders"]["image"] = {"plugin": "clip", "options": options}
    model = mmbind.build_model(mmbind.recipe_from_dict(data)).eval()
    assert set(model.projectors) == {"shared"}
    assert all(torch.equal(v, tower.state_dict()[k])
               for k, v in model.encoders["image"].visual.state_dict().items())
    model.save_pretrained(tmp_path / "ckpt")
    (tmp_path / "tower.pt").unlink()  # restoring needs only the checkpoint
    spec = json.loads((tmp_path / "ckpt" / "encoders" / "image" / oc.ARTIFACT).read_text())
    assert spec["model"] == "ViT-L-14" and spec["model_cfg"]["vision_cfg"]["width"] == 32
    assert spec["model_cfg"]["embed_dim"] == 16 and "text_cfg" not in spec["model_cfg"]
    loaded = mmbind.load_pretrained(tmp_path / "ckpt")
    assert isinstance(loaded.encoders["image"], oc.OpenClipEncoder)
    ids = torch.tensor([[1, model.config.placeholder_ids["image"], 5, model.config.placeholder_ids["video"]]])
    images, videos = torch.randn(1, 3, 28, 28), torch.randn(1, 2, 3, 28, 28)
    with torch.no_grad():
        before = model(ids, images=images, videos=videos).logits
        assert torch.equal(before, loaded(ids, images=images, videos=videos).logits)
    assert before.shape[1] == 4 - 2 + 4 + 2 * 5  # 4 image patches; 2 frames x (CLS + 4 patches)
    (tmp_path / "ckpt" / "encoders" / "image" / oc.ARTIFACT).unlink()
    with pytest.raises(mmbind.CheckpointError,
                       match=r"image/open_clip_encoder\.json: missing \(clip saves it with the model\)$"):
        mmbind.load_pretrained(tmp_path / "ckpt")


def test_registered_as_an_entry_point():
    entry = mmbind.default_registry().get("encoder", "clip")
    assert entry.accepts("image") and entry.accepts("video") and not entry.accepts("audio")
