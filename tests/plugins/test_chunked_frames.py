"""``chunk_frames`` (long videos, bounded memory): chunked encoding equals unchunked encoding for
``languagebind_video`` and the frame-by-frame encoders (``clip_vision``, ``clip``, ``mae``) at 1 to 64 frames
with chunk sizes that do and do not divide the frame count, gradients included; every tower call really
sees at most a chunk; 0 means no chunking and negative values are rejected naming the option."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import mmbind
from mmbind import RecipeError
from mmbind.interfaces import BuildContext, Encoder
from mmbind.interfaces.encoder_helpers import in_chunks
from mmbind.recipe.part_options import validate_part
from mmbind_plugins.encoders import clip_vision, timm_mae
from mmbind_plugins.encoders import open_clip_encoder as oc
from mmbind_plugins.encoders.languagebind import video as lb_video

VIDEO = BuildContext(modality="video", temporal=True)
CLIP_VISION = {"image_size": 28, "patch_size": 14, "hidden_size": 32, "intermediate_size": 64,
               "num_hidden_layers": 2, "num_attention_heads": 4}
OPEN_CLIP = {"embed_dim": 32,
             "vision_cfg": {"image_size": 28, "layers": 2, "width": 64, "head_width": 32, "patch_size": 14}}
MAE = {"img_size": 32, "embed_dim": 64, "depth": 2, "num_heads": 2}


def languagebind(**options) -> Encoder:
    opts = lb_video.LanguageBindVideoOptions(preset="tiny", select_layer=-1, **options)
    return lb_video.build(opts, VIDEO)


def clip_vision_encoder(**options) -> Encoder:
    opts = clip_vision.ClipVisionOptions(config=CLIP_VISION, attn_implementation="eager", **options)
    return clip_vision.build(opts, VIDEO)


def open_clip_encoder(**options) -> Encoder:
    return oc.build(oc.OpenClipOptions(model="ViT-L-14", config=OPEN_CLIP, keep_cls=True, **options), VIDEO)


def mae_encoder(**options) -> Encoder:
    opts = timm_mae.MaeOptions(model="vit_base_patch16_224.mae", config=MAE, keep_cls=True, **options)
    return timm_mae.build(opts, VIDEO)


BUILDERS: dict[str, tuple[Callable[..., Encoder], int]] = {  # plugin: (builder, image size)
    "languagebind_video": (languagebind, 28),
    "clip_vision": (clip_vision_encoder, 28),
    "clip": (open_clip_encoder, 28),
    "mae": (mae_encoder, 32),
}


def pair(plugin: str, chunk: int, **options) -> tuple[Encoder, Encoder]:
    """The same weights built without and with ``chunk_frames=chunk``."""
    builder, _ = BUILDERS[plugin]
    torch.manual_seed(0)
    plain = builder(**options).eval()
    chunked = builder(chunk_frames=chunk, **options).eval()
    chunked.load_state_dict(plain.state_dict())
    assert plain.chunk_frames is None and chunked.chunk_frames == (chunk or None)  # 0: no chunking
    return plain, chunked


def videos_for(plugin: str, items: int, frames: int, seed: int = 1) -> torch.Tensor:
    size = BUILDERS[plugin][1]
    return torch.randn(items, frames, 3, size, size, generator=torch.Generator().manual_seed(seed))


def tower_batches(encoder: Encoder) -> dict[str, list[int]]:
    """Hooks recording the batch size (dim 0) of every spatial and temporal tower call."""
    seen: dict[str, list[int]] = {"spatial": [], "temporal": []}

    def record(kind: str) -> Callable[..., None]:
        return lambda module, args, kwargs: seen[kind].append(
            (args[0] if args else next(iter(kwargs.values()))).shape[0]
        )

    if isinstance(encoder, lb_video.LanguageBindVideoEncoder):
        for layer in encoder.tower.encoder.layers:
            layer.self_attn.register_forward_pre_hook(record("spatial"), with_kwargs=True)
            layer.temporal_attn.register_forward_pre_hook(record("temporal"), with_kwargs=True)
    else:
        original = encoder.encode_frames

        def spy(frames: torch.Tensor) -> torch.Tensor:
            seen["spatial"].append(frames.shape[0])
            return original(frames)

        encoder.encode_frames = spy  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize("plugin", list(BUILDERS))
@pytest.mark.parametrize("frames", [1, 5, 8])
@pytest.mark.parametrize("chunk", [3, 4])
def test_chunked_equals_unchunked(plugin, frames, chunk):
    plain, chunked = pair(plugin, chunk)
    videos = videos_for(plugin, 2, frames)
    seen = tower_batches(chunked)
    with torch.inference_mode():
        want, got = plain(videos), chunked(videos)
    per_frame = chunked.tokens_per_item(1)
    assert got.shape == want.shape == (2, frames * per_frame, chunked.output_dim)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    total = 2 * frames
    calls = -(-total // chunk)  # ceil: every frame of both videos, at most `chunk` per call
    layers = len(chunked.tower.encoder.layers) if plugin == "languagebind_video" else 1
    assert seen["spatial"] == ([min(chunk, total - i * chunk) for i in range(calls)] * layers)
    if plugin == "languagebind_video":  # temporal calls: 2 items x k positions, k * 2 * T ~ chunk * 5 tokens
        positions = max(1, chunk * 5 // total)
        sizes = [2 * min(positions, 5 - i) for i in range(0, 5, positions)]
        assert seen["temporal"] == sizes * layers


@pytest.mark.slow
@pytest.mark.parametrize("plugin", ["languagebind_video", "clip_vision"])
def test_sixty_four_frames(plugin):
    plain, chunked = pair(plugin, 3)
    videos = videos_for(plugin, 1, 64, seed=2)
    with torch.inference_mode():
        want, got = plain(videos), chunked(videos)
        eight = pair(plugin, 8)[1](videos)
    per_frame = plain.tokens_per_item(1)
    assert plain.tokens_per_item(64) == 64 * per_frame
    assert got.shape == (1, 64 * per_frame, plain.output_dim)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(eight, want, atol=1e-5, rtol=1e-5)
    frame_tokens = want.view(64, per_frame, -1)
    assert (frame_tokens[0] - frame_tokens[63]).abs().max() > 1e-2  # different frames, different tokens


def test_languagebind_chunks_keep_temporal_attention_across_all_frames():
    """Changing the last frame moves frame 0's tokens with chunking too (frames are never split apart)."""
    plain, chunked = pair("languagebind_video", 2)
    videos = videos_for("languagebind_video", 1, 8, seed=3)
    changed = videos.clone()
    changed[:, 7] += 1.0
    with torch.inference_mode():
        base, moved = chunked(videos), chunked(changed)
        torch.testing.assert_close(moved, plain(changed), atol=1e-5, rtol=1e-5)
    assert (moved[:, :5] - base[:, :5]).abs().max() > 1e-3


@pytest.mark.parametrize("plugin, frames", [("languagebind_video", 5), ("languagebind_video", 8),
                                            ("clip_vision", 5)])
def test_backward_equals_unchunked(plugin, frames):
    plain, chunked = pair(plugin, 3, frozen=False)
    videos = videos_for(plugin, 2, frames, seed=4)
    grads = []
    for encoder in (plain, chunked):
        pixels = videos.clone().requires_grad_(True)
        out = encoder(pixels)
        weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(5))
        (out * weights).sum().backward()
        params = {name: p.grad for name, p in encoder.named_parameters() if p.grad is not None}
        grads.append({"input": pixels.grad, **params})
    want, got = grads
    assert want.keys() == got.keys() and len(want) > 20  # (unused layers and post-norms get none)
    for name in want:
        torch.testing.assert_close(got[name], want[name], atol=1e-5, rtol=1e-4, msg=name)
    assert want["input"].abs().max() > 1e-4
    if plugin == "languagebind_video":
        key = "tower.encoder.layers.0.temporal_attn.q_proj.weight"
        assert want[key].abs().max() > 1e-5  # temporal attention is trained through the chunks


@pytest.mark.parametrize("plugin", list(BUILDERS))
def test_zero_means_no_chunking(plugin):
    plain, zero = pair(plugin, 0)
    seen = tower_batches(zero)
    videos = videos_for(plugin, 2, 3)
    with torch.inference_mode():
        assert torch.equal(zero(videos), plain(videos))
    assert seen["spatial"][0] == 6  # all frames of both videos in one call


def validate(plugin: str, chunk: int) -> dict:
    """``plugin``'s options with ``chunk_frames: chunk``, validated as a recipe's video encoder."""
    options = {"clip_vision": {"config": CLIP_VISION}}.get(plugin, {}) | {"chunk_frames": chunk}
    registry = mmbind.default_registry()
    return validate_part("model.encoders.video", "encoder", plugin, options, "video", "recipe.yaml", registry)


@pytest.mark.parametrize("plugin", list(BUILDERS))
def test_negative_chunk_is_rejected_naming_the_option(plugin):
    with pytest.raises(
        RecipeError,
        match=rf"recipe\.yaml: invalid options for encoder '{plugin}': model\.encoders\.video\.options\."
        r"chunk_frames: Input should be greater than or equal to 0 \(got -2\)",
    ):
        validate(plugin, -2)
    assert validate(plugin, 4)["chunk_frames"] == 4 and validate(plugin, 0)["chunk_frames"] == 0


def test_in_chunks_helper():
    calls: list[int] = []

    def double(x: torch.Tensor) -> torch.Tensor:
        calls.append(x.shape[1])
        return x * 2

    x = torch.arange(14.0).view(2, 7)
    assert torch.equal(in_chunks(double, x, 3, dim=1), x * 2) and calls == [3, 3, 1]
    calls.clear()
    assert torch.equal(in_chunks(double, x, None, dim=1), x * 2) and calls == [7]
    calls.clear()
    assert torch.equal(in_chunks(double, x, 0, dim=1), x * 2) and calls == [7]
    calls.clear()
    assert torch.equal(in_chunks(double, x, 9, dim=1), x * 2) and calls == [7]
    with pytest.raises(ValueError, match="chunk size must be >= 0"):
        in_chunks(double, x, -1)
    with pytest.raises(ValueError, match="must keep the length along dim 0"):
        in_chunks(lambda t: t[:1], torch.zeros(6, 2), 2)
    leaf = torch.ones(5, 2, requires_grad=True)
    joined = in_chunks(lambda t: t * torch.arange(1.0, 3.0), leaf, 2)
    joined.sum().backward()
    assert torch.equal(leaf.grad, torch.tensor([[1.0, 2.0]] * 5))


def test_tower_rejects_a_negative_chunk():
    encoder = languagebind()
    with pytest.raises(ValueError, match="chunk_frames must be >= 0, got -1"):
        encoder.tower(torch.zeros(1, 2, 3, 28, 28), chunk_frames=-1)
