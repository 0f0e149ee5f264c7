"""``data.datasets.<name>.modalities`` (the joint-training ablation's video-only / image-only variants):
samples with media of another modality are dropped, text-only and malformed ones kept, in the dataset a
stage really builds; unknown modalities are a recipe error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmbind.data.build import build_stage_data
from mmbind.data.records import keep_modalities, read_source
from mmbind.errors import RecipeError
from mmbind.recipe import load_recipe
from tests.support.synth import tiny_model

ROOT = Path(__file__).resolve().parents[2]
TURNS = [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]
SAMPLES = [
    {"id": "img", "image": "a.png", "conversations": TURNS},
    {"id": "vid", "video": "a.mp4", "conversations": TURNS},
    {"id": "txt", "conversations": TURNS},
    {"id": "both", "image": "a.png", "video": "a.mp4", "conversations": TURNS},
    {"id": "nulls", "image": None, "conversations": TURNS},
    "not a sample",
]


def ids(source) -> list[str]:
    return [s["id"] if isinstance(s, dict) else s for s in source.samples]


def test_keep_modalities(tmp_path):
    (tmp_path / "d.json").write_text(json.dumps(SAMPLES))
    source = read_source(str(tmp_path / "d.json"), media_keys=("image", "video"))
    assert keep_modalities(source, None) is source
    assert ids(keep_modalities(source, ["video"])) == ["vid", "txt", "nulls", "not a sample"]
    assert ids(keep_modalities(source, ["image"])) == ["img", "txt", "nulls", "not a sample"]
    assert ids(keep_modalities(source, ["image", "video"])) == ids(source)
    assert ids(keep_modalities(source, [])) == ["txt", "nulls", "not a sample"]


def test_stage_dataset_is_filtered(micro):
    data = micro
    samples = json.loads((data / "finetune.json").read_text())
    videos_and_text = [s["id"] for s in samples if "image" not in s]
    assert 0 < len(videos_and_text) < len(samples)
    recipe = load_recipe(ROOT / "mmbind" / "recipes" / "tiny" / "train.yaml", [
        f"data.datasets.finetune.files=[{{path: {data / 'finetune.json'}}}]",
        "data.feature_cache.enabled=false",
        "data.datasets.finetune.modalities=[video]",
    ])
    dataset, order, _ = build_stage_data(recipe.data, "finetune", recipe.stages["finetune"], tiny_model(data))
    assert [s["id"] for s in dataset.sources[0].samples] == videos_and_text
    assert len(dataset) == len(videos_and_text)


def test_unknown_modality_is_a_recipe_error():
    message = (r"train\.yaml: data\.datasets\.finetune\.modalities\.0: 'audio' is not a modality of the "
               r"model's encoders \(image, video\)$")
    with pytest.raises(RecipeError, match=message):
        load_recipe(ROOT / "mmbind" / "recipes" / "tiny" / "train.yaml",
                    ["data.datasets.finetune.modalities=[audio]"])
