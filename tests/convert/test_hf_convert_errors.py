"""`convert_hf` / `export_hf` on incomplete sources and layouts Video-LLaVA cannot express.

Also the accepted variants the errors guard: sharded safetensors, ``pytorch_model.bin``, tied embeddings,
and a natively built mmbind model exporting with identical outputs.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import VideoLlavaForConditionalGeneration

import mmbind
from mmbind import CheckpointError, ConversionError
from mmbind.convert import convert_hf, export_hf
from tests.support.hf_tiny import batch_ids, media, save_tiny


@pytest.fixture()
def hf_dir(tmp_path: Path) -> Path:
    save_tiny(tmp_path / "hf")
    return tmp_path / "hf"


def _edit_weights(directory: Path, edit: Any) -> None:
    path = directory / "model.safetensors"
    state = load_file(str(path))
    edit(state)
    save_file(state, str(path), metadata={"format": "pt"})


# ----------------------------------------------------------------------------------- convert: errors
def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"nope: not a directory"):
        convert_hf(tmp_path / "nope", tmp_path / "out")


def test_missing_config(hf_dir: Path, tmp_path: Path) -> None:
    (hf_dir / "config.json").unlink()
    with pytest.raises(
        ConversionError, match=r"hf: not a Hugging Face checkpoint \(config.json is missing\)"
    ):
        convert_hf(hf_dir, tmp_path / "out")


def test_invalid_config_json(hf_dir: Path, tmp_path: Path) -> None:
    (hf_dir / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConversionError, match=r"config.json: not valid JSON"):
        convert_hf(hf_dir, tmp_path / "out")


def test_wrong_model_type(hf_dir: Path, tmp_path: Path) -> None:
    data = json.loads((hf_dir / "config.json").read_text())
    (hf_dir / "config.json").write_text(json.dumps({**data, "model_type": "llava"}))
    with pytest.raises(ConversionError, match=r"config.json: model_type is 'llava', expected 'video_llava'"):
        convert_hf(hf_dir, tmp_path / "out")


def test_no_weights(hf_dir: Path, tmp_path: Path) -> None:
    (hf_dir / "model.safetensors").unlink()
    with pytest.raises(ConversionError, match=r"hf: no weights found \(expected one of model.safetensors"):
        convert_hf(hf_dir, tmp_path / "out")


def test_missing_shard(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "hf")
    model.save_pretrained(tmp_path / "sharded", max_shard_size="100KB")
    shards = sorted((tmp_path / "sharded").glob("model-*.safetensors"))
    assert len(shards) > 1
    shards[-1].unlink()
    with pytest.raises(
        ConversionError,
        match=rf"{shards[-1].name}: weight shard listed in model.safetensors.index.json is missing",
    ):
        convert_hf(tmp_path / "sharded", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_key(hf_dir: Path, tmp_path: Path) -> None:
    _edit_weights(hf_dir, lambda s: s.pop("multi_modal_projector.linear_1.bias"))
    with pytest.raises(
        ConversionError,
        match=r"hf: weights do not match the Video-LLaVA layout: "
        r"1 missing \(first: model.multi_modal_projector.linear_1.bias\)",
    ):
        convert_hf(hf_dir, tmp_path / "out")


def test_unmapped_keys(hf_dir: Path, tmp_path: Path) -> None:
    def add(state: dict[str, torch.Tensor]) -> None:
        state["image_newline"] = torch.zeros(4)
        state["video_tower.encoder.layers.0.temporal_attn.q_proj.weight"] = torch.zeros(2, 2)

    _edit_weights(hf_dir, add)
    with pytest.raises(ConversionError, match=r"2 unmapped \(first: .*temporal_attn.q_proj.weight"):
        convert_hf(hf_dir, tmp_path / "out")


def test_shape_mismatch(hf_dir: Path, tmp_path: Path) -> None:
    _edit_weights(hf_dir, lambda s: s.update({"multi_modal_projector.linear_2.bias": torch.zeros(5)}))
    with pytest.raises(
        ConversionError,
        match=r"multi_modal_projector.linear_2.bias has shape \(5,\), the config implies \(32,\)",
    ):
        convert_hf(hf_dir, tmp_path / "out")


def test_corrupt_weights(hf_dir: Path, tmp_path: Path) -> None:
    (hf_dir / "model.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ConversionError, match=r"model.safetensors: unreadable weight file"):
        convert_hf(hf_dir, tmp_path / "out")


def test_unsupported_projector_activation(tmp_path: Path) -> None:
    save_tiny(tmp_path / "hf", projector_act="tanh")
    with pytest.raises(
        ConversionError, match=r"config.json: projector_hidden_act 'tanh' has no mlp2x_gelu equivalent"
    ):
        convert_hf(tmp_path / "hf", tmp_path / "out")


# ----------------------------------------------------------------------------- convert: variants
def _assert_same_weights(hf: VideoLlavaForConditionalGeneration, directory: Path) -> None:
    mm = mmbind.load_pretrained(directory)
    assert torch.equal(mm.llm.model.model.embed_tokens.weight, hf.model.language_model.embed_tokens.weight)
    assert torch.equal(mm.llm.model.lm_head.weight, hf.lm_head.weight)
    assert torch.equal(
        mm.encoders["image"].tower.post_layernorm.bias, hf.model.image_tower.post_layernorm.bias
    )
    assert torch.equal(
        mm.projectors["shared"].layers[0].weight, hf.model.multi_modal_projector.linear_1.weight
    )


def test_sharded_safetensors(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "hf")
    model.save_pretrained(tmp_path / "sharded", max_shard_size="100KB")
    _assert_same_weights(model, convert_hf(tmp_path / "sharded", tmp_path / "out"))


def test_pytorch_bin(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "hf")
    state = load_file(str(tmp_path / "hf" / "model.safetensors"))
    (tmp_path / "hf" / "model.safetensors").unlink()
    torch.save(state, tmp_path / "hf" / "pytorch_model.bin")
    _assert_same_weights(model, convert_hf(tmp_path / "hf", tmp_path / "out"))


def test_bfloat16_checkpoint(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "hf").to(torch.bfloat16)
    model.save_pretrained(tmp_path / "hf")
    assert (load_file(str(tmp_path / "hf" / "model.safetensors"))["language_model.lm_head.weight"].dtype
            == torch.bfloat16)
    _assert_same_weights(model.float(), convert_hf(tmp_path / "hf", tmp_path / "out"))


def test_tied_embeddings_without_lm_head(tmp_path: Path) -> None:
    model = save_tiny(tmp_path / "hf", tie=True)
    assert not any("lm_head" in k for k in load_file(str(tmp_path / "hf" / "model.safetensors")))
    out = convert_hf(tmp_path / "hf", tmp_path / "out")
    _assert_same_weights(model, out)
    mm = mmbind.load_pretrained(out)
    assert mm.llm.model.lm_head.weight.data_ptr() == mm.llm.model.model.embed_tokens.weight.data_ptr()


def test_tied_config_with_differing_lm_head(tmp_path: Path) -> None:
    save_tiny(tmp_path / "hf", tie=True)
    _edit_weights(tmp_path / "hf", lambda s: s.update({"language_model.lm_head.weight": torch.ones(99, 32)}))
    with pytest.raises(
        ConversionError,
        match=r"tie_word_embeddings is true but lm_head.weight and "
        r"model.language_model.embed_tokens.weight differ",
    ):
        convert_hf(tmp_path / "hf", tmp_path / "out")


# ------------------------------------------------------------------------------------ export
TOWER = {
    "image_size": 28,
    "patch_size": 14,
    "hidden_size": 24,
    "intermediate_size": 40,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "hidden_act": "quick_gelu",
}
BASE: dict[str, Any] = {
    "name": "tiny",
    "model": {
        "seed": 0,
        "encoders": {
            m: {"plugin": "clip_vision", "options": {"config": dict(TOWER), "attn_implementation": "eager"}}
            for m in ("image", "video")
        },
        "projector": {"plugin": "mlp2x_gelu", "shared": True},
        "llm": {
            "plugin": "hf_causal",
            "options": {
                "attn_implementation": "eager",
                "config": {
                    "model_type": "llama",
                    "vocab_size": 64,
                    "hidden_size": 32,
                    "intermediate_size": 48,
                    "num_hidden_layers": 2,
                    "num_attention_heads": 4,
                    "num_key_value_heads": 2,
                },
            },
        },
    },
}


def _mmbind_checkpoint(directory: Path, edit: Any = None) -> Path:
    data = copy.deepcopy(BASE)
    if edit is not None:
        edit(data["model"])
    return mmbind.build_model(mmbind.recipe_from_dict(data)).save_pretrained(directory)


def test_native_model_exports_with_identical_outputs(tmp_path: Path) -> None:
    src = _mmbind_checkpoint(tmp_path / "mm")
    mm = mmbind.load_pretrained(src)
    hf = VideoLlavaForConditionalGeneration.from_pretrained(
        export_hf(src, tmp_path / "hf"), attn_implementation="eager"
    )
    assert hf.config.image_token_index == mm.config.placeholder_ids["image"] == 63
    assert (
        hf.config.vision_feature_select_strategy == "default"
        and hf.config.vision_config.hidden_act == "quick_gelu"
    )
    samples = [[5, "image", 6], ["video", 7, 8, 9], [10, 11]]
    ids, mask = batch_ids(samples, hf.config, frames=2)
    hf_ids, hf_mask = batch_ids(samples, hf.config, frames=2, expand=True)
    px = media(samples, 28, frames=2)
    with torch.no_grad():
        ours = mm(ids, mask, images=px["image"], videos=px["video"]).logits
        theirs = hf(
            input_ids=hf_ids,
            attention_mask=hf_mask,
            pixel_values=px["image"],
            pixel_values_videos=px["video"],
        ).logits
    assert (ours - theirs)[hf_mask.bool()].abs().max().item() <= 1e-5


def _set(path: str, value: Any) -> Any:
    def edit(model: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = model
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda m: m["encoders"].pop("video"),
            r"encoders: Video-LLaVA has exactly an 'image' and a 'video' encoder, this model has: image",
        ),
        (
            _set("projector.plugin", "linear"),
            r"projector: a shared 'linear' projector; Video-LLaVA has one shared 'mlp2x_gelu'",
        ),
        (_set("projector.shared", False), r"projector: a per-modality 'mlp2x_gelu' projector"),
        (
            _set("encoders.video.options.select_layer", -1),
            r"encoders: select_layer differs between image \(-2\) and video \(-1\)",
        ),
        (_set("encoders.video.options.keep_cls", False), r"encoders.video: keep_cls is false"),
        (
            _set("encoders.video.options.config", {**TOWER, "hidden_act": "gelu"}),
            r"encoders: image and video towers differ \(hidden_act\)",
        ),
        (
            _set("placeholder_ids", {"image": 64, "video": 65}),
            r"placeholder_ids.image: id 64 lies outside the vocabulary \(64\)",
        ),
    ],
    ids=[
        "one-encoder",
        "linear-projector",
        "unshared-projector",
        "select-layer",
        "video-cls",
        "towers",
        "placeholder",
    ],
)
def test_export_rejects_inexpressible_layouts(tmp_path: Path, edit: Any, message: str) -> None:
    src = _mmbind_checkpoint(tmp_path / "mm", edit)
    with pytest.raises(ConversionError, match=r"mm: not expressible as Video-LLaVA: " + message):
        export_hf(src, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_export_of_non_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"not an mmbind checkpoint \(mmbind_config.json is missing\)"):
        (tmp_path / "empty").mkdir()
        export_hf(tmp_path / "empty", tmp_path / "hf")
