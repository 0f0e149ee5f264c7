"""`convert_videollava` on tiny synthetic checkpoints in exactly the original Video-LLaVA layout: every weight
lands where it belongs, temporal weights matter, image outputs equal a transformers model built from the
same weights, the video path equals the original's frames-as-images prompt, other layouts, the errors, and
the stage-1 projector-only file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import CLIPVisionConfig, CLIPVisionModel, LlamaForCausalLM

import mmbind
from mmbind import CheckpointError, ConversionError
from mmbind.cli.main import main as cli_main
from mmbind.convert.videollava import convert_videollava, load_projector_only
from mmbind.interfaces import BuildContext
from mmbind.prompting import LLAVA_V1, tokenize_prompt
from mmbind_plugins.encoders.languagebind import video as lb_video
from tests.support.videollava_tiny import (
    FRAMES,
    IMAGE_PREFIX,
    IMAGE_TOKEN_INDEX,
    TOWER,
    VIDEO_PREFIX,
    llama_config,
    llama_tokenizer,
    original_tokenizer_image_token,
    source_config,
    source_state,
    towers,
    write_source,
    write_tower_dir,
)

QUESTION = "What is happening in the video?"


@pytest.fixture(scope="module")
def tokenizer():
    return llama_tokenizer()


@pytest.fixture(scope="module")
def vocab(tokenizer) -> int:
    return len(tokenizer)


@pytest.fixture(scope="module")
def state(vocab) -> dict[str, torch.Tensor]:
    return source_state(vocab)


@pytest.fixture(scope="module")
def tower_configs(tmp_path_factory) -> dict[str, Path]:
    """A bare CLIPVisionConfig json for the image tower, a LanguageBind directory for the video tower."""
    root = tmp_path_factory.mktemp("tower_configs")
    image = root / "image.json"
    image.write_text(json.dumps({**TOWER, "model_type": "clip_vision_model"}))
    video = write_tower_dir(root / "video", towers(0)["video"], {**TOWER, "num_frames": FRAMES})
    return {"image_tower": image, "video_tower": video}


@pytest.fixture(scope="module")
def converted(tmp_path_factory, state, vocab, tokenizer, tower_configs) -> tuple[Path, Path]:
    """(source directory in the released layout, its conversion)."""
    root = tmp_path_factory.mktemp("videollava")
    src = write_source(root / "Video-LLaVA-tiny", state, source_config(vocab), tokenizer=tokenizer)
    return src, convert_videollava(src, root / "out", **tower_configs)


@pytest.fixture(scope="module")
def model(converted) -> mmbind.MultimodalLM:
    return mmbind.load_pretrained(converted[1])


def pixels(seed: int = 3) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    image = torch.randn(1, 3, 28, 28, generator=gen)
    return {"image": image, "video": torch.randn(1, FRAMES, 3, 28, 28, generator=gen)}


def logits(model: mmbind.MultimodalLM, tokenizer, modality: str, media: torch.Tensor) -> torch.Tensor:
    prompt = LLAVA_V1.prompt(QUESTION, media=[modality])
    ids = tokenize_prompt(tokenizer, prompt, model.config.placeholder_ids)
    with torch.no_grad():
        return model(torch.tensor([ids]), media={modality: media}).logits


def projector(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The original mm_projector (mlp2x_gelu: Linear, exact GELU, Linear) written out."""
    hidden = F.gelu(F.linear(x, state["model.mm_projector.0.weight"], state["model.mm_projector.0.bias"]))
    return F.linear(hidden, state["model.mm_projector.2.weight"], state["model.mm_projector.2.bias"])


def reference_llama(state: dict[str, torch.Tensor], vocab: int) -> LlamaForCausalLM:
    llama = LlamaForCausalLM._from_config(llama_config(vocab), attn_implementation="eager").eval()
    parts = ("model.layers", "model.embed", "model.norm", "lm_head")
    llama.load_state_dict({k: v for k, v in state.items() if k.startswith(parts) and "inv_freq" not in k})
    return llama


def original_forward(llama: LlamaForCausalLM, ids: list[int], blocks: list[torch.Tensor]) -> torch.Tensor:
    """The original's prepare_inputs_labels_for_multimodal: each -200 replaced by the next feature block."""
    pieces, blocks = [], list(blocks)
    embed = llama.get_input_embeddings()
    for token in ids:
        pieces.append(blocks.pop(0) if token == IMAGE_TOKEN_INDEX else embed(torch.tensor([token])))
    assert not blocks
    with torch.no_grad():
        return llama(inputs_embeds=torch.cat(pieces)[None]).logits


# ------------------------------------------------------------------------------------------- placement
def test_every_weight_lands_where_it_belongs(state, model) -> None:
    ours = model.state_dict()
    target = {
        IMAGE_PREFIX: "encoders.image.tower.",
        VIDEO_PREFIX: "encoders.video.tower.",
        "model.mm_projector.": "projectors.shared.layers.",
        "model.": "llm.model.model.",
        "lm_head.": "llm.model.lm_head.",
    }
    checked = 0
    for key, tensor in state.items():
        if key.endswith(("inv_freq", "position_ids")):
            continue
        prefix = next(p for p in target if key.startswith(p))
        assert torch.equal(ours[target[prefix] + key[len(prefix):]], tensor), key
        checked += 1
    assert checked == len(ours)  # and nothing else is in the model
    assert sum("temporal_attn" in k for k in ours) == 2 * 8  # q,k,v,out weight+bias, two layers


def test_recipe_placeholders_and_provenance(model, tokenizer, vocab) -> None:
    spec = model.config.model
    image, video = spec["encoders"]["image"], spec["encoders"]["video"]
    assert (image["plugin"], video["plugin"]) == ("languagebind_image", "languagebind_video")
    assert image["options"]["select_layer"] == video["options"]["select_layer"] == -2
    assert image["options"]["keep_cls"] is False and image["options"]["pad_to_square"] is True
    assert video["options"]["keep_cls"] is True and video["options"]["num_frames"] == FRAMES
    projector_spec = {"plugin": "mlp2x_gelu", "shared": True, "options": {"act": "gelu", "bias": True}}
    assert spec["projector"] == projector_spec
    assert spec["llm"]["options"]["config"]["model_type"] == "llama"
    assert model.config.placeholder_ids == {"image": vocab, "video": vocab + 1}
    assert model.llm.tokenizer.convert_tokens_to_ids(["<image>", "<video>"]) == [vocab, vocab + 1]
    assert model.llm.vocab_size == vocab  # embeddings not resized: the logits keep the checkpoint's vocab
    extra = model.config.extra
    assert extra["converted_from"] == "videollava" and extra["video_seq_length"] == FRAMES * 5
    assert extra["tower_weights"] == {"image": "checkpoint", "video": "checkpoint"}


# ------------------------------------------------------------------------------------------ behaviour
def test_image_outputs_match_transformers_built_from_the_same_weights(model, state, tokenizer, vocab) -> None:
    image = pixels()["image"]
    clip = CLIPVisionModel._from_config(CLIPVisionConfig(**TOWER), attn_implementation="eager").eval()
    tower = {k[len(IMAGE_PREFIX):]: v for k, v in state.items() if k.startswith(IMAGE_PREFIX)}
    clip.load_state_dict({k: v for k, v in tower.items() if "position_ids" not in k})
    with torch.no_grad():
        hidden = clip(pixel_values=image, output_hidden_states=True).hidden_states[-2]
        features = projector(state, hidden[0, 1:])  # "patch": CLS dropped
    ids = original_tokenizer_image_token(LLAVA_V1.prompt(QUESTION, media=["image"]), tokenizer)
    expected = original_forward(reference_llama(state, vocab), ids, [features])
    got = logits(model, tokenizer, "image", image)
    assert got.shape == expected.shape and got.shape[-1] == vocab
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-4)


def test_video_equals_the_originals_frames_as_images(model, state, tokenizer, vocab) -> None:
    video = pixels()["video"]
    options = lb_video.LanguageBindVideoOptions(preset="tiny")
    tower = lb_video.build(options, BuildContext(modality="video", temporal=True)).eval()
    tower.load_tower_state(state, prefix=VIDEO_PREFIX, ignore_others=True)
    with torch.no_grad():
        frames = projector(state, tower(video).reshape(FRAMES, 5, -1))  # (T, 1 + 4 patches, D)
    prompt = LLAVA_V1.prompt(QUESTION).replace("USER: ", "USER: " + "<image>" * FRAMES + "\n", 1)
    ids = original_tokenizer_image_token(prompt, tokenizer)
    expected = original_forward(reference_llama(state, vocab), ids, list(frames))
    torch.testing.assert_close(logits(model, tokenizer, "video", video), expected, atol=2e-5, rtol=1e-4)


def test_perturbing_a_temporal_weight_changes_video_not_image(
    tmp_path, model, state, vocab, tokenizer, tower_configs
) -> None:
    edited = dict(state)
    key = VIDEO_PREFIX + "encoder.layers.0.temporal_attn.v_proj.weight"
    edited[key] = state[key] + 0.5
    src = write_source(tmp_path / "src", edited, source_config(vocab), tokenizer=tokenizer)
    other = mmbind.load_pretrained(convert_videollava(src, tmp_path / "out", **tower_configs))
    media = pixels()
    video, image = media["video"], media["image"]
    before = logits(model, tokenizer, "video", video)
    assert not torch.allclose(logits(other, tokenizer, "video", video), before)
    assert torch.equal(logits(other, tokenizer, "image", image), logits(model, tokenizer, "image", image))


# ------------------------------------------------------------------------------------- other layouts
@pytest.mark.parametrize("layout", ["safetensors", "safetensors_sharded"])
def test_safetensors_layouts_convert_identically(
    tmp_path, layout, model, state, vocab, tokenizer, tower_configs
) -> None:
    src = write_source(tmp_path / "src", state, source_config(vocab), layout=layout, tokenizer=tokenizer)
    out = mmbind.load_pretrained(convert_videollava(src, tmp_path / "out", **tower_configs))
    theirs = out.state_dict()
    assert all(torch.equal(theirs[k], v) for k, v in model.state_dict().items())


def test_tower_weights_from_languagebind_directories(tmp_path, vocab) -> None:
    """No tower keys in the checkpoint: weights (and geometry) come from the LanguageBind directories; no
    tokenizer: the placeholders are vocab_size and vocab_size + 1."""
    tower = towers(seed=7)
    src = write_source(tmp_path / "src", source_state(vocab, with_towers=False), source_config(vocab))
    dirs = {
        "image_tower": write_tower_dir(tmp_path / "LanguageBind_Image", tower["image"], TOWER),
        "video_tower": write_tower_dir(
            tmp_path / "LanguageBind_Video_merge", tower["video"], {**TOWER, "num_frames": FRAMES}
        ),
    }
    out = mmbind.load_pretrained(convert_videollava(src, tmp_path / "out", **dirs))
    ours = out.state_dict()
    for modality in ("image", "video"):
        assert all(torch.equal(ours[f"encoders.{modality}.tower.{k}"], v) for k, v in tower[modality].items())
    assert out.config.placeholder_ids == {"image": vocab, "video": vocab + 1} and out.llm.tokenizer is None
    assert out.config.extra["tower_weights"] == {"image": "directory", "video": "directory"}


def test_linear_projector_and_cls_patch(tmp_path, vocab, tower_configs) -> None:
    state = source_state(vocab, projector="linear")
    config = source_config(
        vocab, mm_projector_type="linear", mm_vision_select_feature="cls_patch", image_aspect_ratio=None
    )
    src = write_source(tmp_path / "src", state, config)
    out = mmbind.load_pretrained(convert_videollava(src, tmp_path / "out", **tower_configs))
    assert out.config.model["projector"]["plugin"] == "linear"
    assert torch.equal(out.projectors["shared"].proj.weight, state["model.mm_projector.weight"])
    assert out.encoders["image"].tokens_per_item() == 5
    assert out.encoders["image"].media_transform().pad_to_square is False


def test_cli_converts_with_tower_options(tmp_path, converted, model, tower_configs, capsys) -> None:
    args = ["convert", "videollava", str(converted[0]), str(tmp_path / "out")]
    assert cli_main(args) == 1  # tiny towers: the released geometry does not fit
    assert "pass image_tower=DIR (--image-tower)" in capsys.readouterr().err
    towers_args = [
        "--image-tower", str(tower_configs["image_tower"]), "--video-tower", str(tower_configs["video_tower"])
    ]
    assert cli_main([*args, *towers_args]) == 0
    out = mmbind.load_pretrained(tmp_path / "out")
    assert all(torch.equal(out.state_dict()[k], v) for k, v in model.state_dict().items())
    assert cli_main(["convert", "hf", str(converted[0]), str(tmp_path / "x"), *towers_args]) == 2


# --------------------------------------------------------------------------------------------- errors
@pytest.fixture()
def src(tmp_path, state, vocab) -> Path:
    return write_source(tmp_path / "src", state, source_config(vocab))


def convert(src: Path, tower_configs: dict[str, Path]) -> Path:
    return convert_videollava(src, src.parent / "out", **tower_configs)


def test_missing_config(src, tower_configs) -> None:
    (src / "config.json").unlink()
    with pytest.raises(ConversionError, match=r"src: not a Video-LLaVA checkpoint \(config.json is missing"):
        convert(src, tower_configs)


def test_wrong_model_type(src, tower_configs) -> None:
    (src / "config.json").write_text(json.dumps({"model_type": "video_llava"}))
    message = r"config.json: model_type is 'video_llava', expected 'llava' .*'mmbind convert hf'"
    with pytest.raises(ConversionError, match=message):
        convert(src, tower_configs)


def test_missing_shard(src, tower_configs) -> None:
    (src / "pytorch_model-00002-of-00002.bin").unlink()
    message = r"pytorch_model-00002-of-00002.bin: weight shard listed in pytorch_model.bin.index.json is mis"
    with pytest.raises(ConversionError, match=message):
        convert(src, tower_configs)


def test_missing_and_unexpected_keys(tmp_path, state, vocab, tower_configs) -> None:
    broken = {k: v for k, v in state.items() if k != "model.layers.1.mlp.up_proj.weight"}
    broken["model.mm_projector.4.weight"] = torch.zeros(2)
    src = write_source(tmp_path / "src", broken, source_config(vocab))
    with pytest.raises(
        ConversionError,
        match=r"src: weights do not match the Video-LLaVA layout: "
        r"1 missing \(first: model.layers.1.mlp.up_proj.weight\); "
        r"1 unexpected \(first: model.mm_projector.4.weight\)",
    ):
        convert(src, tower_configs)


def test_shape_mismatch_names_file_and_key(tmp_path, state, vocab, tower_configs) -> None:
    broken = {**state, "model.mm_projector.2.weight": torch.zeros(64, 48)}
    src = write_source(tmp_path / "src", broken, source_config(vocab))
    with pytest.raises(
        ConversionError,
        match=r"src/pytorch_model-0000[12]-of-00002.bin: model.mm_projector.2.weight has shape \(64, 48\), "
        r"the model that config.json describes expects \(64, 64\)",
    ):
        convert(src, tower_configs)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "mm_projector_type", "mlp3x_gelu",
            r"mm_projector_type 'mlp3x_gelu' is not supported \(supported: linear, mlp2x_gelu\)",
        ),
        ("mm_projector_type", "identity", r"mm_projector_type 'identity' is not supported"),
        ("mm_vision_select_feature", "cls", r"mm_vision_select_feature 'cls' is not supported \(patch, cls_"),
        ("mm_use_im_start_end", True, r"mm_use_im_start_end true .* is not supported"),
        ("mm_hidden_size", 1024, r"mm_hidden_size is 1024 but the image tower's width is 32"),
    ],
)
def test_unsupported_config_fields(tmp_path, state, vocab, tower_configs, field, value, message) -> None:
    src = write_source(tmp_path / "src", state, source_config(vocab, **{field: value}))
    with pytest.raises(ConversionError, match=message):
        convert(src, tower_configs)


def test_geometry_defaults_to_the_released_towers_and_is_checked(src) -> None:
    with pytest.raises(
        ConversionError,
        match=r"src: the image tower weights have hidden_size 32 "
        r"\(model.image_tower.image_tower.embeddings.patch_embedding.weight\) "
        r"but the released LanguageBind towers' geometry .* says 1024; "
        r"pass image_tower=DIR \(--image-tower\)",
    ):
        convert_videollava(src, src.parent / "out")


def test_given_tower_config_contradicting_the_weights(tmp_path, src, tower_configs) -> None:
    wrong = tmp_path / "video.json"
    wrong.write_text(json.dumps({"vision_config": {**TOWER, "num_frames": 8}}))
    with pytest.raises(
        ConversionError,
        match=r"the video tower weights have num_frames 4 "
        r"\(model.video_tower.video_tower.encoder.layers.0.temporal_embedding\) but .*video.json says 8$",
    ):
        convert_videollava(src, tmp_path / "out", image_tower=tower_configs["image_tower"], video_tower=wrong)


def test_missing_tower_weights_are_named(tmp_path, vocab) -> None:
    src = write_source(tmp_path / "src", source_state(vocab, with_towers=False), source_config(vocab))
    with pytest.raises(
        ConversionError,
        match=r"src: the checkpoint holds no image tower weights \(model.image_tower.image_tower.\*\); "
        r"pass image_tower=DIR \(--image-tower\), a local copy of LanguageBind/LanguageBind_Image with its",
    ):
        convert_videollava(src, tmp_path / "out")


# --------------------------------------------------------------------------------------- projector only
def test_projector_only_loads_strictly(tmp_path, converted) -> None:
    model = mmbind.load_pretrained(converted[1])
    gen = torch.Generator().manual_seed(9)
    layers = model.projectors["shared"].layers
    weights = {
        f"model.mm_projector.{k}": torch.randn(v.shape, generator=gen) for k, v in layers.state_dict().items()
    }
    torch.save(weights, tmp_path / "mm_projector.bin")
    assert load_projector_only(model, tmp_path / "mm_projector.bin") is model
    for key, tensor in weights.items():
        assert torch.equal(layers.state_dict()[key.removeprefix("model.mm_projector.")], tensor)
    torch.save({**weights, "model.layers.0.mlp.up_proj.weight": torch.zeros(1)}, tmp_path / "mixed.bin")
    message = r"mixed.bin: not a projector-only checkpoint: 1 key\(s\) outside mm_projector"
    with pytest.raises(ConversionError, match=message):
        load_projector_only(model, tmp_path / "mixed.bin")
    del weights["model.mm_projector.2.bias"]
    torch.save(weights, tmp_path / "partial.bin")
    message = r"partial.bin \(mm_projector.\* as projectors.shared\): .*1 missing \(layers.2.bias\)"
    with pytest.raises(CheckpointError, match=message):
        load_projector_only(model, tmp_path / "partial.bin")


def test_tokenizer_that_does_not_load(src, tower_configs) -> None:
    (src / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "LlamaTokenizer"}))
    (src / "tokenizer.model").write_bytes(b"\x00not a sentencepiece model")
    message = r"src: the tokenizer files do not load \(.*\); a tokenizer.model without"
    with pytest.raises(ConversionError, match=message):
        convert(src, tower_configs)


def test_bfloat16_llm_keeps_the_released_dtype_bit_exact(
    tmp_path, state, vocab, tokenizer, tower_configs
) -> None:
    towers_prefixes = ("model.image", "model.video")
    bf16 = {
        k: v if k.startswith(towers_prefixes) or not v.is_floating_point() else v.to(torch.bfloat16)
        for k, v in state.items()
    }
    config = source_config(vocab, torch_dtype="bfloat16")
    src = write_source(tmp_path / "src", bf16, config, tokenizer=tokenizer)
    out = mmbind.load_pretrained(
        convert_videollava(src, tmp_path / "out", llm_dtype="bfloat16", **tower_configs)
    )
    assert out.llm.model.dtype == torch.bfloat16
    assert torch.equal(out.llm.model.lm_head.weight, bf16["lm_head.weight"])
    assert torch.isfinite(logits(out, tokenizer, "video", pixels()["video"]).float()).all()


def test_tied_embeddings_count_once_and_must_agree(tmp_path, state, vocab, tower_configs) -> None:
    config = source_config(vocab, tie_word_embeddings=True)
    untied = {k: v for k, v in state.items() if k != "lm_head.weight"}
    src = write_source(tmp_path / "a", untied, config)
    out = mmbind.load_pretrained(convert_videollava(src, tmp_path / "oa", **tower_configs))
    assert torch.equal(out.llm.model.lm_head.weight, state["model.embed_tokens.weight"])
    src = write_source(tmp_path / "b", state, config)  # lm_head stored too, and different
    names = r"(lm_head.weight and model.embed_tokens.weight|model.embed_tokens.weight and lm_head.weight)"
    with pytest.raises(ConversionError, match=rf"b: {names} differ but tie_word_embeddings"):
        convert_videollava(src, tmp_path / "ob", **tower_configs)


def test_config_tower_paths_naming_local_directories_are_used(tmp_path, vocab, monkeypatch) -> None:
    """mm_image_tower / mm_video_tower set to local LanguageBind folders (absolute, relative to the working
    directory or to the checkpoint) need no --image-tower / --video-tower."""
    tower = towers(seed=7)
    image_dir = write_tower_dir(tmp_path / "towers" / "LanguageBind_Image", tower["image"], TOWER)
    video = {**TOWER, "num_frames": FRAMES}
    write_tower_dir(tmp_path / "src" / "LanguageBind_Video_merge", tower["video"], video)
    config = source_config(vocab, mm_image_tower=str(image_dir), mm_video_tower="LanguageBind_Video_merge")
    src = write_source(tmp_path / "src", source_state(vocab, with_towers=False), config)
    out = mmbind.load_pretrained(convert_videollava(src, tmp_path / "out"))
    ours = out.state_dict()
    for modality in ("image", "video"):
        assert all(torch.equal(ours[f"encoders.{modality}.tower.{k}"], v) for k, v in tower[modality].items())
    monkeypatch.chdir(tmp_path)
    relative = source_config(
        vocab, mm_image_tower="towers/LanguageBind_Image", mm_video_tower="LanguageBind_Video_merge"
    )
    src2 = write_source(tmp_path / "src2", source_state(vocab, with_towers=False), relative)
    # the video folder is under src
    with pytest.raises(ConversionError, match="holds no video tower weights"):
        convert_videollava(src2, tmp_path / "out2")
