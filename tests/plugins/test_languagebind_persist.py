"""LanguageBind encoders inside a Video-LLaVA-shaped model: save_pretrained / load_pretrained round trip."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

import mmbind
from mmbind.interfaces import BuildContext
from mmbind_plugins.encoders.languagebind import video as lb_video

LLM = {"model_type": "llama", "vocab_size": 128, "hidden_size": 64, "intermediate_size": 128,
       "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
       "max_position_embeddings": 512}


def recipe(video_weights: str) -> mmbind.Recipe:
    return mmbind.recipe_from_dict({
        "name": "tiny-languagebind-video-llava",
        "model": {
            "seed": 0,
            "encoders": {
                "image": {"plugin": "languagebind_image", "options": {"preset": "tiny"}},
                "video": {"plugin": "languagebind_video",
                          "options": {"preset": "tiny", "num_frames": 3, "weights": video_weights}},
            },
            "projector": {"plugin": "mlp2x_gelu", "shared": True},
            "llm": {"plugin": "hf_causal", "options": {"config": LLM}},
        },
    })


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    options = lb_video.LanguageBindVideoOptions(preset="tiny", num_frames=3)
    source = lb_video.build(options, BuildContext(modality="video", temporal=True))
    weights = tmp_path / "LanguageBind_Video_merge" / "model.safetensors"
    weights.parent.mkdir()
    save_file({f"vision_model.{k}": v for k, v in source.tower.state_dict().items()}, str(weights))

    model = mmbind.build_model(recipe(str(weights.parent))).eval()
    assert torch.equal(model.encoders["video"].tower.encoder.layers[1].temporal_embedding,
                       source.tower.encoder.layers[1].temporal_embedding)
    img, vid = model.config.placeholder_ids["image"], model.config.placeholder_ids["video"]
    ids = torch.tensor([[1, img, 5, vid, 6]])
    g = torch.Generator().manual_seed(1)
    images, videos = torch.randn(1, 3, 28, 28, generator=g), torch.randn(1, 3, 3, 28, 28, generator=g)
    with torch.no_grad():
        before = model(ids, images=images, videos=videos).logits
    assert before.shape[1] == 5 - 2 + 4 + 3 * 5  # image drops CLS (4 tokens); video keeps it (3 x 5)

    out = tmp_path / "saved"
    model.save_pretrained(out)
    saved = json.loads((out / "encoders" / "video" / "config.json").read_text())
    assert saved["num_frames"] == 3 and saved["hidden_size"] == 32
    assert "num_frames" not in json.loads((out / "encoders" / "image" / "config.json").read_text())
    weights.unlink()  # restoring must rebuild from the saved artifacts, never from the original weights

    loaded = mmbind.load_pretrained(out)
    with torch.no_grad():
        after = loaded(ids, images=images, videos=videos).logits
    assert torch.equal(before, after)
    assert type(loaded.encoders["video"]).__name__ == "LanguageBindVideoEncoder"
    assert type(loaded.encoders["image"]).__name__ == "LanguageBindImageEncoder"


def test_restoring_without_the_saved_config_is_a_checkpoint_error(tmp_path):
    options = lb_video.LanguageBindVideoOptions(preset="tiny")
    context = BuildContext(modality="video", artifacts_dir=tmp_path, load_weights=False, temporal=True)
    with pytest.raises(mmbind.CheckpointError, match=rf"^{tmp_path}: no config\.json \(the tower config"):
        lb_video.build(options, context)
