"""languagebind_image: parity with transformers' CLIPVisionModel, checkpoint layouts, strict loading."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file
from transformers import CLIPVisionModel

import mmbind
from mmbind import CheckpointError, PluginOptionsError
from mmbind.interfaces import BuildContext
from mmbind.media import ImageTransform
from mmbind_plugins.encoders.languagebind import image as lb_image

TEXT_ENTRIES = {  # what a LanguageBindImage checkpoint holds besides the vision tower (must be skipped)
    "text_model.embeddings.token_embedding.weight": torch.zeros(10, 8),
    "text_model.final_layer_norm.weight": torch.ones(8),
    "text_projection.weight": torch.zeros(4, 8),
    "visual_projection.weight": torch.zeros(4, 32),
    "logit_scale": torch.tensor(2.0),
}


def build(**options) -> lb_image.LanguageBindImageEncoder:
    opts = lb_image.LanguageBindImageOptions(preset="tiny", **options)
    return lb_image.build(opts, BuildContext(modality="image"))


@pytest.fixture(scope="module")
def reference() -> tuple[dict[str, torch.Tensor], CLIPVisionModel]:
    """A randomly initialised tiny CLIPVisionModel and its (bare-layout) state dict."""
    torch.manual_seed(0)
    encoder = build()
    model = CLIPVisionModel._from_config(encoder.tower.config, attn_implementation="eager").eval()
    state = {k: v.clone() for k, v in encoder.tower.state_dict().items()}
    model.load_state_dict(state)
    return state, model


@pytest.fixture(scope="module")
def pixels() -> torch.Tensor:
    return torch.randn(3, 3, 28, 28, generator=torch.Generator().manual_seed(1))


def expected_tokens(model: CLIPVisionModel, pixels: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(pixel_values=pixels, output_hidden_states=True).hidden_states[-2][:, 1:]


def test_languagebind_layout_equals_clip_vision_model_exactly(tmp_path, reference, pixels):
    state, model = reference
    checkpoint = {f"vision_model.{k}": v for k, v in state.items()} | TEXT_ENTRIES
    checkpoint["vision_model.embeddings.position_ids"] = torch.arange(5)[None]  # saved by old transformers
    save_file(checkpoint, str(tmp_path / "model.safetensors"))
    encoder = build(weights=str(tmp_path)).eval()
    with torch.no_grad():
        tokens = encoder(pixels)
    assert tokens.shape == (3, 4, 32) and encoder.tokens_per_item() == 4
    assert torch.equal(tokens, expected_tokens(model, pixels))


def test_bare_clip_vision_layout_loads(tmp_path, reference, pixels):
    state, model = reference
    torch.save(state, tmp_path / "pytorch_model.bin")
    encoder = build(weights=str(tmp_path / "pytorch_model.bin"), keep_cls=True).eval()
    with torch.no_grad():
        tokens = encoder(pixels)
        want = model(pixel_values=pixels, output_hidden_states=True).hidden_states[-2]
    assert tokens.shape == (3, 5, 32) and encoder.tokens_per_item() == 5
    assert torch.equal(tokens, want)


def test_select_layer_picks_that_hidden_state(reference, pixels):
    state, model = reference
    encoder = build(select_layer=-1, keep_cls=True).eval()
    encoder.load_tower_state(state)
    with torch.no_grad():
        want = model(pixel_values=pixels, output_hidden_states=True).hidden_states[2]
        assert torch.equal(encoder(pixels), want)


def test_missing_vision_key_is_listed(tmp_path, reference):
    state, _ = reference
    checkpoint = {f"vision_model.{k}": v for k, v in state.items() if k != "encoder.layers.1.mlp.fc2.bias"}
    save_file(checkpoint | TEXT_ENTRIES, str(tmp_path / "lb.safetensors"))
    with pytest.raises(
        CheckpointError,
        match=r"lb\.safetensors \(prefix 'vision_model\.'\): weights do not match the model: "
        r"1 missing \(encoder\.layers\.1\.mlp\.fc2\.bias\)$",
    ):
        build(weights=str(tmp_path / "lb.safetensors"))


def test_unexpected_vision_key_is_an_error(tmp_path, reference):
    state, _ = reference
    checkpoint = {f"vision_model.{k}": v for k, v in state.items()}
    checkpoint["vision_model.encoder.layers.0.temporal_attn.q_proj.weight"] = torch.zeros(32, 32)
    save_file(checkpoint, str(tmp_path / "lb.safetensors"))
    with pytest.raises(
        CheckpointError, match=r"1 unexpected \(encoder\.layers\.0\.temporal_attn\.q_proj\.weight\)$"
    ):
        build(weights=str(tmp_path / "lb.safetensors"))


def test_only_known_non_vision_entries_are_skipped(tmp_path, reference):
    state, _ = reference
    checkpoint = {f"vision_model.{k}": v for k, v in state.items()} | TEXT_ENTRIES
    checkpoint["decoder.weight"] = torch.zeros(2)
    save_file(checkpoint, str(tmp_path / "lb.safetensors"))
    with pytest.raises(CheckpointError, match=r"1 unexpected \(decoder\.weight\)$"):
        build(weights=str(tmp_path / "lb.safetensors"))


def test_video_llava_embedded_copy_loads_with_its_prefix(reference, pixels):
    state, model = reference
    checkpoint = {f"model.image_tower.image_tower.{k}": v for k, v in state.items()}
    checkpoint["model.layers.0.self_attn.q_proj.weight"] = torch.zeros(2, 2)  # the LLM around it
    encoder = build().eval()
    encoder.load_tower_state(checkpoint, prefix="model.image_tower.image_tower.", ignore_others=True)
    with torch.no_grad():
        assert torch.equal(encoder(pixels), expected_tokens(model, pixels))


def test_wrong_geometry_names_the_mis_shaped_key(tmp_path, reference):
    state, _ = reference
    save_file(state, str(tmp_path / "model.safetensors"))
    shapes = r"class_embedding has shape \(32,\), the model expects \(64,\)"
    with pytest.raises(CheckpointError, match=shapes):
        build(weights=str(tmp_path), config={"hidden_size": 64})


def test_nonexistent_weights_path_is_named():
    with pytest.raises(CheckpointError, match=r"/no/such/LanguageBind_Image: no such file or directory"):
        build(weights="/no/such/LanguageBind_Image")


def test_options_validation():
    with pytest.raises(PluginOptionsError, match=r"^languagebind_image: select_layer -4 is out of .*-3\.\.2"):
        build(select_layer=-4)
    # the tower config is checked when the options validate (recipe time), before anything is built
    with pytest.raises(ValueError, match=r"config.hidden_size\n.*32 is not divisible by num_attention_heads"):
        build(config={"num_attention_heads": 5})
    with pytest.raises(ValueError, match=r"config.hidden_sizes\n.*unknown key of CLIPVisionConfig"):
        build(config={"hidden_sizes": 64})
    with pytest.raises(ValueError, match="extra_forbidden|Extra inputs"):
        lb_image.LanguageBindImageOptions(num_frames=8)


def test_interface_frozen_and_transform():
    encoder = build(pad_to_square=True)
    assert encoder.output_dim == 32 and encoder.item_shape == (3, 28, 28)
    assert not any(p.requires_grad for p in encoder.parameters())
    assert all(p.requires_grad for p in build(frozen=False).parameters())
    assert encoder.media_transform() == ImageTransform(size=28, pad_to_square=True)
    assert encoder.tower.config._attn_implementation == "eager"
    assert build(attn_implementation="sdpa").tower.config._attn_implementation == "sdpa"


def test_registered_for_images_only():
    entry = mmbind.default_registry().get("encoder", "languagebind_image")
    assert entry.accepts("image") and not entry.accepts("video")
    assert entry.options is lb_image.LanguageBindImageOptions


def test_vit_l_14_preset_geometry():
    with torch.device("meta"):
        encoder = lb_image.build(lb_image.LanguageBindImageOptions(), BuildContext(modality="image"))
    config = encoder.tower.config
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (1024, 24, 16)
    assert (config.intermediate_size, config.hidden_act, config.layer_norm_eps) == (4096, "gelu", 1e-5)
    assert encoder.tokens_per_item() == 256 and encoder.item_shape == (3, 224, 224)
    assert encoder.tower.encoder.layers[23].mlp.fc1.weight.shape == (4096, 1024)
