"""`Encoder.token_layout` of the first-party encoders: frames x (CLS if kept + patch grid) matching the
tokens they really return (LanguageBind image / depth / thermal / video / audio, ``clip_vision``, ``clip``,
``mae`` for images and frame-by-frame videos, several ``select_layer`` layers concatenated along the
width); each frame block of a frame-by-frame video is that frame's own encoding (frame-major, CLS first);
None for token counts that are not whole frames; LanguageBind at 224 px gives the worked examples' grids."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from mmbind.interfaces import BuildContext, Encoder, TokenLayout
from mmbind_plugins.encoders import clip_vision, timm_mae
from mmbind_plugins.encoders import open_clip_encoder as oc
from mmbind_plugins.encoders.languagebind import audio, depth, image, thermal, video

IMAGE, VIDEO = BuildContext(modality="image", temporal=False), BuildContext(modality="video", temporal=True)
CLIP_VISION = {"image_size": 42, "patch_size": 14, "hidden_size": 32, "intermediate_size": 64,
               "num_hidden_layers": 2, "num_attention_heads": 4}
OPEN_CLIP = {"embed_dim": 32,
             "vision_cfg": {"image_size": 42, "layers": 2, "width": 64, "head_width": 32, "patch_size": 14}}
MAE = {"img_size": 48, "embed_dim": 64, "depth": 2, "num_heads": 2}


def randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def languagebind_still(module, **options) -> Encoder:
    name = module.__name__.rsplit(".", 1)[-1].capitalize()
    opts = getattr(module, f"LanguageBind{name}Options")(preset="tiny", **options)
    return module.build(opts, IMAGE)


def languagebind_audio(**options) -> Encoder:
    return audio.build(audio.LanguageBindAudioOptions(preset="tiny", **options), IMAGE)


STILL: dict[str, tuple[Callable[..., Encoder], dict, TokenLayout]] = {  # builder, options, layout of one item
    "languagebind_image": (lambda **o: languagebind_still(image, **o), {}, TokenLayout(1, 0, 2, 2)),
    "languagebind_image+cls": (lambda **o: languagebind_still(image, **o), {"keep_cls": True},
                               TokenLayout(1, 1, 2, 2)),
    "languagebind_depth": (lambda **o: languagebind_still(depth, **o), {}, TokenLayout(1, 0, 2, 2)),
    "languagebind_thermal": (lambda **o: languagebind_still(thermal, **o), {"keep_cls": True},
                             TokenLayout(1, 1, 2, 2)),
    # 28 mel bins x 56 frames: 2 x 4 patches (mel x time)
    "languagebind_audio": (languagebind_audio, {}, TokenLayout(1, 0, 2, 4)),
    "languagebind_audio+cls": (languagebind_audio, {"keep_cls": True}, TokenLayout(1, 1, 2, 4)),
}


@pytest.mark.parametrize("name", list(STILL))
def test_still_towers_declare_one_frame_of_their_grid(name):
    builder, options, expected = STILL[name]
    torch.manual_seed(0)
    encoder = builder(**options).eval()
    tokens = encoder.tokens_per_item()
    assert encoder.token_layout(tokens) == expected and expected.tokens == tokens
    with torch.no_grad():
        out = encoder(randn(2, *encoder.item_shape))
    assert out.shape[1] == tokens
    assert encoder.token_layout(tokens + 1) is None and encoder.token_layout(tokens - 1) is None


def test_languagebind_video_declares_frames_of_cls_and_grid():
    torch.manual_seed(0)
    encoder = video.build(video.LanguageBindVideoOptions(preset="tiny"), VIDEO).eval()
    for frames in (1, 3, 4):
        tokens = encoder.tokens_per_item(frames)
        assert encoder.token_layout(tokens) == TokenLayout(frames, 1, 2, 2)
    with torch.no_grad():
        assert encoder(randn(1, 3, 3, 28, 28)).shape[1] == TokenLayout(3, 1, 2, 2).tokens == 15
    assert encoder.token_layout(14) is None
    no_cls = video.build(video.LanguageBindVideoOptions(preset="tiny", keep_cls=False), VIDEO)
    assert no_cls.token_layout(no_cls.tokens_per_item(3)) == TokenLayout(3, 0, 2, 2)


def test_languagebind_at_224_px_has_16_by_16_grids():
    big = {"config": {"image_size": 224}}
    clip_video = video.build(video.LanguageBindVideoOptions(preset="tiny", **big), VIDEO)
    assert clip_video.tokens_per_item(8) == 2056
    assert clip_video.token_layout(2056) == TokenLayout(8, 1, 16, 16)
    still = image.build(image.LanguageBindImageOptions(preset="tiny", **big), IMAGE)
    assert still.token_layout(still.tokens_per_item()) == TokenLayout(1, 0, 16, 16)


def clip_vision_encoder(context: BuildContext, **options) -> Encoder:
    opts = clip_vision.ClipVisionOptions(config=CLIP_VISION, attn_implementation="eager", **options)
    return clip_vision.build(opts, context)


def open_clip_encoder(context: BuildContext, **options) -> Encoder:
    return oc.build(oc.OpenClipOptions(config=OPEN_CLIP, **options), context)


def mae_encoder(context: BuildContext, **options) -> Encoder:
    opts = timm_mae.MaeOptions(model="vit_base_patch16_224.mae", config=MAE, **options)
    return timm_mae.build(opts, context)


FRAME_BY_FRAME: dict[str, tuple[Callable[..., Encoder], int, int]] = {  # builder, image size, tower width
    "clip_vision": (clip_vision_encoder, 42, 32),
    "clip": (open_clip_encoder, 42, 64),
    "mae": (mae_encoder, 48, 64),
}


@pytest.mark.parametrize("name", list(FRAME_BY_FRAME))
@pytest.mark.parametrize("layers", [-2, [-1, -2]])
def test_frame_by_frame_encoders_declare_each_frames_cls_and_grid(name, layers):
    builder, size, tower_width = FRAME_BY_FRAME[name]
    side = 3  # 42 px / 14 (clip_vision, clip), 48 px / 16 (mae)
    torch.manual_seed(0)
    videos = builder(VIDEO, keep_cls=True, select_layer=layers).eval()
    torch.manual_seed(0)
    images = builder(IMAGE, keep_cls=False, select_layer=layers).eval()
    images.load_state_dict(videos.state_dict())
    width = videos.output_dim
    assert width == images.output_dim == tower_width * (len(layers) if isinstance(layers, list) else 1)
    clip = randn(2, 3, 3, size, size)
    with torch.no_grad():
        out = videos(clip)
        alone = [videos.encode_frames(clip[:, t]) for t in range(3)]  # (2, 1 + P, width) per frame
        still = images(clip[:, 0])
    layout = videos.token_layout(videos.tokens_per_item(3))
    assert layout == TokenLayout(3, 1, side, side) and out.shape == (2, layout.tokens, width)
    blocks = out.reshape(2, 3, layout.per_frame, width)
    for t in range(3):
        assert torch.allclose(blocks[:, t], alone[t], atol=1e-5)  # frame-major, CLS first
    assert torch.allclose(blocks[:, 0, 1:], still, atol=1e-5)  # the image layout: the same grid, no CLS
    assert images.token_layout(images.tokens_per_item()) == TokenLayout(1, 0, side, side)
    assert still.shape == (2, side * side, width)
    assert videos.token_layout(layout.tokens - 1) is None
