"""languagebind_video: the temporal layer against a plain-torch reference, reduction to per-frame CLIP,
frame-count interpolation, strict loading of the original layouts, the vit_l_14 geometry."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import CLIPVisionModel

import mmbind
from mmbind import CheckpointError, PluginOptionsError
from mmbind.interfaces import BuildContext
from mmbind.media import VideoTransform
from mmbind_plugins.encoders.languagebind import video as lb_video
from mmbind_plugins.encoders.languagebind.video_tower import resample_frames

TEMPORAL = ("temporal_embedding", "temporal_attn.", "temporal_layer_norm1.")


def build(**options) -> lb_video.LanguageBindVideoEncoder:
    opts = lb_video.LanguageBindVideoOptions(preset="tiny", **options)
    return lb_video.build(opts, BuildContext(modality="video", temporal=True)).eval()


@pytest.fixture(scope="module")
def encoder() -> lb_video.LanguageBindVideoEncoder:
    torch.manual_seed(0)
    return build()


@pytest.fixture(scope="module")
def videos() -> torch.Tensor:
    return torch.randn(2, 4, 3, 28, 28, generator=torch.Generator().manual_seed(1))


# ------------------------------------------------------------------ plain-torch reference of one layer
def ref_attention(params: dict[str, torch.Tensor], prefix: str, x: torch.Tensor, heads: int) -> torch.Tensor:
    """Multi-head self-attention over dim 1 of ``x`` (B, S, D) written with matmuls."""
    b, s, d = x.shape

    def proj(name: str) -> torch.Tensor:
        return x @ params[f"{prefix}{name}.weight"].T + params[f"{prefix}{name}.bias"]

    def split(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(b, s, heads, d // heads).permute(0, 2, 1, 3)

    q, k, v = split(proj("q_proj")), split(proj("k_proj")), split(proj("v_proj"))
    weights = torch.softmax(q @ k.transpose(-1, -2) * (d // heads) ** -0.5, dim=-1)
    out = (weights @ v).permute(0, 2, 1, 3).reshape(b, s, d)
    return out @ params[f"{prefix}out_proj.weight"].T + params[f"{prefix}out_proj.bias"]


def ref_norm(params: dict[str, torch.Tensor], prefix: str, x: torch.Tensor) -> torch.Tensor:
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5) * params[f"{prefix}weight"] + params[f"{prefix}bias"]


def ref_layer(params: dict[str, torch.Tensor], x: torch.Tensor, frames: int, heads: int) -> torch.Tensor:
    """LanguageBind's layer on ``(b t) n d`` input, einops-style rearranges done by hand."""
    bt, n, d = x.shape
    b = bt // frames
    if frames != 1:
        emb = params["temporal_embedding"]  # (1, T, d)
        x = (x.reshape(b, frames, n, d) + emb[0][None, :, None, :]).reshape(bt, n, d)
    residual = x
    xt = x.reshape(b, frames, n, d).permute(0, 2, 1, 3).reshape(b * n, frames, d)  # (b t) n d -> (b n) t d
    xt = ref_attention(params, "temporal_attn.", ref_norm(params, "temporal_layer_norm1.", xt), heads)
    x = residual + xt.reshape(b, n, frames, d).permute(0, 2, 1, 3).reshape(bt, n, d)  # back to (b t) n d
    x = x + ref_attention(params, "self_attn.", ref_norm(params, "layer_norm1.", x), heads)
    h = ref_norm(params, "layer_norm2.", x) @ params["mlp.fc1.weight"].T + params["mlp.fc1.bias"]
    h = F.gelu(h) @ params["mlp.fc2.weight"].T + params["mlp.fc2.bias"]
    return x + h


def ref_tower(encoder: lb_video.LanguageBindVideoEncoder, videos: torch.Tensor, layers: int) -> torch.Tensor:
    params = encoder.tower.state_dict()
    n, t = videos.shape[:2]
    frames = videos.flatten(0, 1)
    patches = F.conv2d(frames, params["embeddings.patch_embedding.weight"], stride=14)
    patches = patches.flatten(2).transpose(1, 2)
    cls = params["embeddings.class_embedding"].expand(n * t, 1, -1)
    x = torch.cat([cls, patches], dim=1) + params["embeddings.position_embedding.weight"]
    x = ref_norm(params, "pre_layrnorm.", x)
    for i in range(layers):
        prefix = f"encoder.layers.{i}."
        layer = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
        x = ref_layer(layer, x, t, heads=4)
    return x.reshape(n, -1, x.shape[-1])


@pytest.mark.parametrize("frames", [1, 2, 4])
def test_layer_matches_plain_torch_reference(encoder, frames):
    layer = encoder.tower.encoder.layers[0]
    params = {k: v.detach() for k, v in layer.state_dict().items()}
    x = torch.randn(3 * frames, 5, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        got = layer(x, frames)
    if frames != 4:  # other frame counts use the interpolated embedding (tested on its own below)
        params["temporal_embedding"] = resample_frames(params["temporal_embedding"], frames)
    torch.testing.assert_close(got, ref_layer(params, x, frames, heads=4), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_encoder_matches_reference_tower(encoder, videos, attn):
    other = build(attn_implementation=attn)
    other.load_state_dict(encoder.state_dict())
    with torch.no_grad():
        tokens = other(videos)
    assert tokens.shape == (2, 4 * 5, 32) and other.tokens_per_item(4) == 20
    torch.testing.assert_close(tokens, ref_tower(encoder, videos, layers=1), atol=1e-5, rtol=1e-5)


def spatial_only(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if not any(part in k for part in TEMPORAL)}


def test_zeroed_temporal_weights_reduce_to_per_frame_clip(encoder, videos):
    silent = build()
    state = encoder.state_dict()
    for key in state:
        if key.endswith((
            "temporal_attn.out_proj.weight", "temporal_attn.out_proj.bias", "temporal_embedding"
        )):
            state[key] = torch.zeros_like(state[key])
    silent.load_state_dict(state)
    clip = CLIPVisionModel._from_config(silent.tower.config, attn_implementation="eager").eval()
    clip.load_state_dict(spatial_only(silent.tower.state_dict()))
    with torch.no_grad():
        want = clip(pixel_values=videos.flatten(0, 1), output_hidden_states=True).hidden_states[-2]
        torch.testing.assert_close(silent(videos), want.reshape(2, 20, 32), atol=1e-6, rtol=0)
        # and without temporal attention, frames no longer see each other
        changed = videos.clone()
        changed[:, 1] += 1.0
        assert torch.equal(silent(changed)[:, :5], silent(videos)[:, :5])


def test_temporal_weights_matter(encoder, videos):
    with torch.no_grad():
        base = encoder(videos)
        changed = videos.clone()
        changed[:, 1] += 1.0  # frame 1 changes; frame 0's tokens move through temporal attention
        assert (encoder(changed)[:, :5] - base[:, :5]).abs().max() > 1e-3
        for key in ("encoder.layers.0.temporal_attn.v_proj.weight", "encoder.layers.0.temporal_embedding"):
            other = build()
            state = encoder.state_dict()
            noise = torch.randn(state[f"tower.{key}"].shape, generator=torch.Generator().manual_seed(6))
            state[f"tower.{key}"] = state[f"tower.{key}"] + 0.1 * noise  # (a constant shift of v_proj is
            # invisible: it adds a multiple of the LayerNorm output's sum, which is zero)
            other.load_state_dict(state)
            assert (other(videos) - base).abs().max() > 1e-3, key


def test_temporal_embedding_interpolation():
    emb = torch.randn(1, 4, 6, generator=torch.Generator().manual_seed(3))
    assert resample_frames(emb, 4) is emb
    longer = resample_frames(emb, 7)
    assert longer.shape == (1, 7, 6)
    torch.testing.assert_close(longer[:, ::2], emb, atol=1e-7, rtol=0)
    torch.testing.assert_close(longer[:, 1::2], (emb[:, :-1] + emb[:, 1:]) / 2, atol=1e-6, rtol=0)
    shorter = resample_frames(emb, 2)
    torch.testing.assert_close(shorter, emb[:, [0, 3]], atol=1e-7, rtol=0)
    assert resample_frames(emb.bfloat16(), 7).dtype == torch.bfloat16


def test_any_frame_count(encoder):
    g = torch.Generator().manual_seed(4)
    for frames in (1, 2, 3, 7):
        videos = torch.randn(1, frames, 3, 28, 28, generator=g)
        with torch.no_grad():
            tokens = encoder(videos)
        assert tokens.shape == (1, frames * 5, 32) and encoder.tokens_per_item(frames) == frames * 5
        if frames == 2:
            torch.testing.assert_close(tokens, ref_tower_at(encoder, videos), atol=1e-5, rtol=1e-5)


def ref_tower_at(encoder: lb_video.LanguageBindVideoEncoder, videos: torch.Tensor) -> torch.Tensor:
    """The reference tower with each layer's embedding resampled beforehand to the clip's frame count."""
    frames = videos.shape[1]
    state = encoder.state_dict()
    for key in [k for k in state if k.endswith("temporal_embedding")]:
        state[key] = resample_frames(state[key], frames)
    resampled = build(num_frames=frames)
    resampled.load_state_dict(state)
    return ref_tower(resampled, videos, layers=1)


def test_single_frame_skips_the_temporal_embedding(encoder):
    video = torch.randn(2, 1, 3, 28, 28, generator=torch.Generator().manual_seed(5))
    other = build()
    state = encoder.state_dict()
    state["tower.encoder.layers.0.temporal_embedding"] += 1.0
    other.load_state_dict(state)
    with torch.no_grad():
        assert torch.equal(other(video), encoder(video))


def original_layout(encoder: lb_video.LanguageBindVideoEncoder) -> dict[str, torch.Tensor]:
    """The tower as a LanguageBind_Video_merge checkpoint stores it, text tower included."""
    state = {f"vision_model.{k}": v.clone() for k, v in encoder.tower.state_dict().items()}
    state.update({
        "text_model.embeddings.token_embedding.weight": torch.zeros(10, 8),
        "text_projection.weight": torch.zeros(4, 8),
        "visual_projection.weight": torch.zeros(4, 32),
        "logit_scale": torch.tensor(2.0),
    })
    return state


def test_original_layout_round_trips_strictly(tmp_path, encoder, videos):
    save_file(original_layout(encoder), str(tmp_path / "model.safetensors"))
    loaded = build(weights=str(tmp_path))
    for key, value in encoder.tower.state_dict().items():
        assert torch.equal(loaded.tower.state_dict()[key], value), key
    with torch.no_grad():
        assert torch.equal(loaded(videos), encoder(videos))
    expected = {f"vision_model.{k}" for k in loaded.tower.state_dict()}
    assert expected == {k for k in original_layout(encoder) if k.startswith("vision_model.")}


def test_missing_temporal_key_is_named(tmp_path, encoder):
    state = original_layout(encoder)
    del state["vision_model.encoder.layers.1.temporal_attn.k_proj.bias"]
    save_file(state, str(tmp_path / "video.safetensors"))
    with pytest.raises(
        CheckpointError,
        match=r"video\.safetensors \(prefix 'vision_model\.'\): weights do not match the model: "
        r"1 missing \(encoder\.layers\.1\.temporal_attn\.k_proj\.bias\)$",
    ):
        build(weights=str(tmp_path / "video.safetensors"))


def test_plain_clip_checkpoint_is_refused_listing_temporal_keys(tmp_path, encoder):
    state = {f"vision_model.{k}": v for k, v in spatial_only(encoder.tower.state_dict()).items()}
    save_file(state, str(tmp_path / "clip.safetensors"))
    with pytest.raises(CheckpointError, match=r"22 missing \(encoder\.layers\.0\.temporal_embedding, "):
        build(weights=str(tmp_path / "clip.safetensors"))


def test_unmerged_lora_checkpoint_gets_a_hint(encoder):
    state = original_layout(encoder)
    state["vision_model.encoder.layers.0.temporal_attn.q_proj.lora_A.default.weight"] = torch.zeros(2, 32)
    with pytest.raises(CheckpointError, match=r"1 unexpected .* looks like an unmerged LoRA checkpoint"):
        build().load_tower_state(state, where="LanguageBind_Video")


def test_video_llava_embedded_copy_loads_with_its_prefix(encoder, videos):
    state = {f"{lb_video.VIDEO_LLAVA_PREFIX}{k}": v for k, v in encoder.tower.state_dict().items()}
    state["model.image_tower.image_tower.pre_layrnorm.weight"] = torch.ones(32)
    state["model.mm_projector.0.weight"] = torch.zeros(64, 32)
    loaded = build()
    loaded.load_tower_state(state, prefix=lb_video.VIDEO_LLAVA_PREFIX, where="vl", ignore_others=True)
    with torch.no_grad():
        assert torch.equal(loaded(videos), encoder(videos))
    del state[f"{lb_video.VIDEO_LLAVA_PREFIX}encoder.layers.0.temporal_embedding"]
    with pytest.raises(CheckpointError, match=r"1 missing \(encoder\.layers\.0\.temporal_embedding\)"):
        build().load_tower_state(state, prefix=lb_video.VIDEO_LLAVA_PREFIX, where="vl", ignore_others=True)


def test_checkpoint_frame_count_must_match_num_frames(tmp_path, encoder):
    save_file(original_layout(encoder), str(tmp_path / "model.safetensors"))
    with pytest.raises(
        CheckpointError,
        match=r"layers\.0\.temporal_embedding has shape \(1, 4, 32\), the model expects \(1, 8, 32\)",
    ):
        build(weights=str(tmp_path), num_frames=8)


def test_options_and_interface():
    encoder = build()
    assert encoder.output_dim == 32 and encoder.item_shape == (None, 3, 28, 28)
    assert encoder.tokens_per_item() == 4 * 5  # the preset's num_frames
    assert build(keep_cls=False)(torch.zeros(1, 3, 3, 28, 28)).shape == (1, 12, 32)
    assert not any(p.requires_grad for p in encoder.parameters())
    assert all(p.requires_grad for p in build(frozen=False).parameters())
    assert encoder.media_transform() == VideoTransform(size=28)
    with pytest.raises(PluginOptionsError, match=r"languagebind_video: select_layer 3 is out of range"):
        build(select_layer=3)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        lb_video.LanguageBindVideoOptions(num_frames=0)
    with pytest.raises(mmbind.InputError, match=r"expected \(N, T, 3, H, W\), got \(2, 3, 28, 28\)"):
        encoder(torch.zeros(2, 3, 28, 28))


def test_tiny_preset_builds_offline_from_the_registry():
    entry = mmbind.default_registry().get("encoder", "languagebind_video")
    assert entry.accepts("video") and not entry.accepts("image")
    context = BuildContext(modality="video", temporal=True)
    encoder = entry.build(entry.options.model_validate({"preset": "tiny"}), context)
    assert sum(p.numel() for p in encoder.parameters()) > 0 and encoder.modality == "video"


def test_vit_l_14_preset_geometry():
    with torch.device("meta"):
        context = BuildContext(modality="video", temporal=True)
        encoder = lb_video.build(lb_video.LanguageBindVideoOptions(), context)
    config, layer = encoder.tower.config, encoder.tower.encoder.layers[23]
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (1024, 24, 16)
    assert (config.intermediate_size, config.hidden_act, config.layer_norm_eps) == (4096, "gelu", 1e-5)
    assert layer.temporal_embedding.shape == (1, 8, 1024) and layer.temporal_attn.q_proj.bias.shape == (1024,)
    assert encoder.tokens_per_item() == 2056 and encoder.item_shape == (None, 3, 224, 224)
    assert encoder.layer == 23  # hidden_states[-2]: the output of layer 23 of 24
