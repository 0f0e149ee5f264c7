"""Any modality end to end through the core: a data key is read by the media loader a plugin contributes
(depth here: first-party, through the same hook as image and video); samples with image + depth train,
evaluate and chat; a data key no encoder serves is one error before training (or skipped and counted);
tag / file mismatches and wrong files are reported by sample id; two plugins claiming one loader is an
error naming both; the loader's options are part of the feature-cache key."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
import torch

import mmbind
from mmbind.cli.main import main
from mmbind.data.build import build_stage_data, run_readers
from mmbind.data.collate import Collator
from mmbind.data.example import BadSample, Example
from mmbind.data.media_readers import guess_modality, media_readers
from mmbind.dataset_manifest import read_manifest
from mmbind.errors import DataError, DuplicatePluginError, InputError, RecipeError
from mmbind.inference import Generator, Query
from mmbind.registry import MediaLoaderEntry, load_registry
from mmbind.train.feature_cache import encoder_identity
from tests.support.train import TRAIN_RECIPE

DEPTH = "model.encoders.depth={plugin: languagebind_depth, options: {preset: tiny}}"


def recipe(data: Path, *overrides: str, files: tuple[str, ...] = ("finetune.json", "finetune_depth.json")):
    vocab = read_manifest(data)["tokenizer_depth"]["vocab_size"]
    listed = ", ".join(f"{{path: {data / f}}}" for f in files)
    return mmbind.load_recipe(TRAIN_RECIPE, [
        f"model.llm.options.tokenizer={data / 'tokenizer_depth'}",
        f"model.llm.options.config.vocab_size={vocab}",
        f"data.datasets.finetune.files=[{listed}]", "data.feature_cache.enabled=false", *overrides])


@pytest.fixture(scope="module")
def depth_model(micro):
    return mmbind.build_model(recipe(micro, DEPTH)).eval()


def finetune_data(data: Path, model, *overrides: str, files=("finetune.json", "finetune_depth.json")):
    spec = recipe(data, *overrides, files=files)
    return build_stage_data(spec.data, "finetune", spec.stages["finetune"], model)


def test_image_and_depth_samples_train_through_one_forward(micro, depth_model):
    dataset, _, _ = finetune_data(micro, depth_model)
    depth_samples = json.loads((micro / "finetune_depth.json").read_text())
    first = next(i for i, (s, _) in enumerate(dataset.index) if s == 1)  # the first sample of the depth file
    example = dataset[first]
    assert isinstance(example, Example) and example.id == depth_samples[0]["id"]
    assert [m.modality for m in example.media] == ["image", "depth"]
    assert example.media[1].pixels.shape == (3, 28, 28)
    assert dataset.approx_length(first)[0] == "depth+image"
    for packing in (False, True):
        batch = Collator(0, packing)([example, dataset[0]])
        assert batch.media["depth"].count == 1 and batch.media["image"].count >= 1
        out = depth_model(**batch.model_inputs())
        assert torch.isfinite(out.loss)


def test_a_data_key_no_encoder_serves_is_one_error_before_training(micro, tmp_path):
    from tests.support.synth import tiny_model

    model = tiny_model(micro)  # image + video only
    count = len(json.loads((micro / "finetune_depth.json").read_text()))
    with pytest.raises(DataError) as error:
        finetune_data(micro, model, "data.on_bad_sample=fail")
    message = str(error.value)
    assert message.startswith(f"stage finetune: dataset 'finetune': data key 'depth' in {count} sample(s) "
                              "(files: depth/")
    assert "served by no encoder of the recipe (encoders: image, video)" in message
    assert "data.on_bad_sample: skip" in message
    dataset, _, _ = finetune_data(micro, model)  # skip (the default): those samples skipped and counted
    items = [dataset[i] for i in range(len(dataset))]
    bad = [item for item in items if isinstance(item, BadSample)]
    assert len(bad) == count
    assert "data key 'depth' (depth/" in bad[0].reason
    assert bad[0].reason.startswith(str(micro / "finetune_depth.json"))


def test_dropping_a_key_keeps_the_conversation_without_its_media(micro):
    from tests.support.synth import tiny_model

    model = tiny_model(micro)
    dataset, _, _ = finetune_data(micro, model, "data.datasets.finetune.drop_media=[depth]",
                                  files=("finetune_depth.json",))
    example = dataset[0]
    assert isinstance(example, Example) and [m.modality for m in example.media] == ["image"]
    text = model.llm.tokenizer.decode(example.input_ids)
    assert "Which" in text or "nearest" in text or "farther" in text or "nearer" in text


def test_tag_mismatches_and_wrong_files_are_reported_by_sample(micro, depth_model, tmp_path):
    samples = [
        {"id": "two-maps-one-tag", "image": str(micro / "images/00000.png"),
         "depth": [str(micro / "depth/00000.png"), str(micro / "depth/00001.png")],
         "conversations": [{"from": "human", "value": "<image>\n<depth>\nQ"}, {"from": "gpt", "value": "A"}]},
        {"id": "not-a-depth-map", "depth": str(micro / "finetune.json"),
         "conversations": [{"from": "human", "value": "<depth>\nQ"}, {"from": "gpt", "value": "A"}]},
        {"id": "missing", "depth": str(tmp_path / "nope.png"),
         "conversations": [{"from": "human", "value": "<depth>\nQ"}, {"from": "gpt", "value": "A"}]},
    ]
    (tmp_path / "bad.json").write_text(json.dumps(samples))
    spec = recipe(micro, DEPTH)
    spec.data.datasets["finetune"].files[0].path = str(tmp_path / "bad.json")
    spec.data.datasets["finetune"].files = spec.data.datasets["finetune"].files[:1]
    with pytest.raises(Exception, match="no usable sample: all 3 sample"):
        build_stage_data(spec.data, "finetune", spec.stages["finetune"], depth_model)
    from mmbind.data.build import media_specs, open_sources
    from mmbind.data.dataset import ConversationDataset
    from mmbind.prompting.tokenize import ConversationTokenizer

    sources = open_sources(spec.data.datasets["finetune"].files, list(depth_model.encoders))
    tokenizer = ConversationTokenizer(depth_model.llm.tokenizer, dict(depth_model.config.placeholder_ids))
    specs = media_specs(depth_model, run_readers(spec.data, list(depth_model.encoders)))
    dataset = ConversationDataset(sources, "vicuna_v1", tokenizer, specs, 512)
    reasons = {item.id: item.reason for item in (dataset[i] for i in range(3))}
    assert "1 <depth> tag(s) in the conversation but 2 depth file(s)" in reasons["two-maps-one-tag"]
    assert "finetune.json" in reasons["not-a-depth-map"] and "depth" in reasons["not-a-depth-map"]
    assert reasons["missing"] == f"sample missing: depth file not found: {tmp_path / 'nope.png'}"


def _loader_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)

    class Options(mmbind.recipe.strict.StrictModel):
        pass

    @mmbind.hookimpl
    def mmbind_media_loaders():
        return [MediaLoaderEntry("depth", Options, lambda options: None)]

    module.mmbind_media_loaders = mmbind_media_loaders
    return module


def test_two_plugins_claiming_one_modality_is_an_error_naming_both():
    registry = load_registry([_loader_module("first_depth_plugin"), _loader_module("second_depth_plugin")])
    with pytest.raises(DuplicatePluginError, match="loader 'depth' is provided by both "
                                                   r"\(explicit\) \(first_depth_plugin\) and "
                                                   r"\(explicit\) \(second_depth_plugin\)"):
        media_readers(["depth"], registry=registry)


def test_loaders_recognise_suffixes_and_validate_options():
    assert (guess_modality("a/clip.MP4"), guess_modality("x.png"), guess_modality("s.wav")) == \
        ("video", "image", "audio")
    with pytest.raises(InputError, match=r"x\.xyz: no media loader of .* reads \.xyz files; name the "):
        guess_modality("x.xyz")
    readers = media_readers(["video", "image"], {"video": {"backend": "pyav"}}, {"frames": 8}, {"frames": 3})
    assert readers["video"].frames == 3 and readers["image"].frames is None
    assert json.loads(readers["video"].identity) == {"loader": "video",
                                                     "options": {"frames": 3, "backend": "pyav"}}
    with pytest.raises(RecipeError, match=r"data\.media\.video: invalid options for loader 'video': "):
        media_readers(["video"], {"video": {"frames": 0}})
    with pytest.raises(RecipeError, match="no media loader reads data key 'smell'"):
        media_readers(["smell"])


def test_the_loader_and_its_options_are_part_of_the_feature_cache_key(micro, depth_model):
    spec = recipe(micro, DEPTH)
    four = run_readers(spec.data, ["video", "depth"])
    eight = run_readers(spec.data, ["video", "depth"], frames=8)
    key = lambda readers, m: encoder_identity(depth_model, m, readers[m].identity, "fp32")  # noqa: E731
    assert key(four, "video") != key(eight, "video")
    assert key(four, "depth") == key(eight, "depth")


def test_generation_and_chat_take_an_image_with_its_depth_map(micro, depth_model, tmp_path, capsys):
    depth_model.save_pretrained(tmp_path / "model")
    generator = Generator(depth_model)
    image, depth = micro / "eval/images/00001.png", micro / "eval/depth/00001.png"
    query = Query("Which object is nearer?", "image", image, also=(("depth", depth),))
    assert generator.prompt(query).count("<image>") == 1 and "<image><depth>" in generator.prompt(query)
    answer = generator.answer([query], 4)[0]
    code = main(["chat", str(tmp_path / "model"), "--image", str(image), "--media", f"depth={depth}",
                 "--prompt", "Which object is nearer?", "--max-new-tokens", "4"])
    out, err = capsys.readouterr()
    assert code == 0 and out.strip() == answer, err
    code = main(["chat", str(tmp_path / "model"), "--media", f"smell={depth}", "--prompt", "Q"])
    assert code != 0
    assert "this model has no 'smell' encoder (it has: image, video, depth)" in capsys.readouterr().err
    missing = tmp_path / "none.png"
    code = main(["chat", str(tmp_path / "model"), "--media", f"depth={missing}", "--prompt", "Q"])
    assert code != 0 and f"depth file not found: {missing}" in capsys.readouterr().err
