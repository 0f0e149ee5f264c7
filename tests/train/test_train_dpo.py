"""``kind: dpo``: its options, preference data in both layouts (bad pairs skipped and reported by id, a stage
of bad pairs only exits 3), and whole runs: the reference as a frozen copy, precomputed into the run folder,
or the LoRA model with its adapters disabled; TRL's metrics in metrics.jsonl and the loss chart."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from safetensors.torch import load_file

import mmbind
from mmbind.cli.main import main
from mmbind.data.build import build_stage_data
from mmbind.data.preferences import PreferenceExample, parse_preference
from mmbind.data.records import read_source
from mmbind.errors import RecipeError
from mmbind.train import train
from mmbind.train.metrics import MetricsLog
from tests.support.preferences import DPO_STAGE, dpo_recipe, make_preferences
from tests.support.train import TRAIN_RECIPE, data_overrides, make_data, tiny_train_recipe

SHORT = ["stages.pretrain.max_steps=1", "stages.finetune.global_batch=4",
         "stages.finetune.per_device_batch=2",
         "stages.finetune.warmup_ratio=0", "stages.finetune.lr=1e-2", "data.feature_cache.enabled=false"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("data"), images=2, videos=2, text_only=2)


# ----------------------------------------------------------------------------------------------- recipe
def test_dpo_options_default_to_trls(data):
    stage = dpo_recipe(data, data / "preferences.json").stages["finetune"]
    assert stage.kind == "dpo"
    assert stage.options == {"beta": 0.1, "loss": "sigmoid", "label_smoothing": 0.0, "nll_weight": None,
                             "reference": "copy"}


@pytest.mark.parametrize(("overrides", "message"), [
    (["stages.finetune.options={beta: 0.1, loss: ipo, label_smoothing: 0.1}"],
     r"label_smoothing applies to loss sigmoid"),
    (["stages.finetune.options={mask_ratio: 0.5}"],
     r"'mask_ratio' is an option of kind mae, not of kind dpo"),
    (["stages.finetune.packing=true"], r"kind dpo: packing is not supported"),
    (["stages.finetune.lora={r: 4}"], r"kind dpo: with lora .* only the LLM's adapters may train"),
    (["stages.finetune.kind=dp"], r"stages\.finetune\.kind: unknown stage kind 'dp'; did you mean 'dpo'\?"),
])
def test_bad_dpo_stages_are_recipe_errors(data, overrides, message):
    with pytest.raises(RecipeError, match=message):
        dpo_recipe(data, data / "preferences.json", *overrides)


# ------------------------------------------------------------------------------------------------- data
def test_both_layouts_give_the_same_pairs(data):
    llava = read_source(str(make_preferences(data, "llava.json")), media_keys=["image", "video"])
    ranking = read_source(str(make_preferences(data, "ranking.json", ranking=True)),
                          media_keys=["image", "video"])
    for i in range(len(llava.samples)):
        (chosen, rejected), (chosen2, rejected2) = parse_preference(llava, i), parse_preference(ranking, i)
        assert (chosen.turns, rejected.turns, chosen.media) == (chosen2.turns, rejected2.turns, chosen2.media)
        assert chosen.turns[:-1] == rejected.turns[:-1] and chosen.turns[-1] != rejected.turns[-1]


BAD = [
    {"id": "same", "image": "images/000.png",
     "conversations": [{"from": "human", "value": "<image>\nColour?"}], "chosen": "It is red.",
     "rejected": "It is red."},
    {"id": "empty", "conversations": [{"from": "human", "value": "What is 1 plus 1?"}], "chosen": "It is 2.",
     "rejected": " "},
    {"id": "tag-without-file", "conversations": [{"from": "human", "value": "<image>\nColour?"}],
     "chosen": "It is red.", "rejected": "It is blue."},
    {"id": "missing-file", "image": "images/nowhere.png",
     "conversations": [{"from": "human", "value": "<image>\nColour?"}], "chosen": "It is red.",
     "rejected": "It is blue."},
    {"id": "answered-prompt", "conversations": [{"from": "human", "value": "What is 1 plus 1?"},
                                                {"from": "gpt", "value": "It is 2."}],
     "chosen": "It is 2.", "rejected": "It is 3."},
]


@pytest.mark.slow
def test_bad_pairs_are_skipped_and_reported_by_id(data, tmp_path):
    pairs = make_preferences(data, "with_bad.json", extra=BAD)
    run = tmp_path / "run"
    summary = train(dpo_recipe(data, pairs, *SHORT, "stages.finetune.max_steps=3"), run, progress=False)
    assert summary["stages"]["finetune"]["status"] == "done"
    reported = [json.loads(line) for line in (run / "bad_samples.jsonl").read_text().splitlines()]
    reasons = {r["id"]: r["reason"] for r in reported if r["stage"] == "finetune"}
    assert set(reasons) == {b["id"] for b in BAD}
    assert "identical" in reasons["same"] and "empty" in reasons["empty"]
    assert "0 image file(s)" in reasons["tag-without-file"] and "nowhere.png" in reasons["missing-file"]
    assert "must end with the user's turn" in reasons["answered-prompt"]


@pytest.mark.slow
def test_a_stage_of_bad_pairs_only_exits_3(data, tmp_path, capsys):
    pairs = data / "all_bad.json"
    pairs.write_text(json.dumps(BAD), encoding="utf-8")
    code = main(["train", str(TRAIN_RECIPE), *data_overrides(data), *DPO_STAGE(pairs), *SHORT,
                 "--output", str(tmp_path / "run"), "--no-progress"])
    assert code == 3
    assert "no usable sample: all 5 sample(s) are bad" in " ".join(capsys.readouterr().err.split())


# ------------------------------------------------------------------------------------------------- runs
def _records(run: Path) -> list[dict]:
    return [r for r in MetricsLog(run).records() if r["stage"] == "finetune"]


@pytest.mark.slow
def test_precomputed_reference_trains_as_the_frozen_copy(data, tmp_path):
    pairs = make_preferences(data)
    runs = {}
    for reference in ("copy", "precomputed"):
        runs[reference] = run = tmp_path / reference
        recipe = dpo_recipe(data, pairs, *SHORT, "stages.finetune.max_steps=4",
                            options=f"{{beta: 0.5, reference: {reference}}}")
        train(recipe, run, progress=False)
    copy, precomputed = _records(runs["copy"]), _records(runs["precomputed"])
    assert copy[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)  # the policy starts as the reference
    for a, b in zip(copy, precomputed, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-4)
        for key in ("rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen",
                    "logps/rejected"):
            assert a[key] == pytest.approx(b[key], rel=1e-3, abs=1e-4), key  # padding differs: rounding
        if abs(a["rewards/margins"]) > 1e-3:  # accuracy compares rewards that start as rounding noise
            assert a["rewards/accuracies"] == b["rewards/accuracies"]
    assert copy[-1]["rewards/margins"] > 0 and copy[-1]["loss"] < math.log(2)  # it learns the preferences
    table = load_file(str(runs["precomputed"] / "reference" / "finetune.safetensors"))
    assert len(table["chosen"]) == len(table["rejected"]) == 6 and bool((table["chosen"] < 0).all())
    assert not (runs["copy"] / "reference").exists()
    assert (runs["copy"] / "loss.png").is_file()


@pytest.mark.slow
def test_lora_reference_is_the_model_without_its_adapters(data, tmp_path):
    recipe = dpo_recipe(data, make_preferences(data), *SHORT, "stages.finetune.max_steps=3",
                        "stages.finetune.train=[llm]", "stages.finetune.lora={r: 4, alpha: 8, dropout: 0.0}")
    summary = train(recipe, tmp_path / "run", progress=False)
    assert summary["stages"]["finetune"]["kind"] == "dpo"
    records = _records(tmp_path / "run")
    assert records[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)  # adapters start at zero
    assert records[-1]["rewards/margins"] != 0.0
    saved = load_file(str(tmp_path / "run" / "stages" / "finetune" / "model.safetensors"))
    assert not any("lora_" in name for name in saved)  # merged


def test_pairs_share_their_media(data):
    recipe = dpo_recipe(data, make_preferences(data), "data.feature_cache.enabled=false")
    model = mmbind.build_model(recipe)
    stage = recipe.stages["finetune"]
    dataset, _, _ = build_stage_data(recipe.data, "finetune", stage, model, preferences=True)
    pair = next(p for p in (dataset[i] for i in range(len(dataset)))
                if isinstance(p, PreferenceExample) and p.chosen.media)
    assert pair.chosen.media and not pair.rejected.media  # the rejected example carries placeholders only


@pytest.mark.slow
def test_a_warm_feature_cache_trains_as_a_cold_one(data, tmp_path):
    pairs = make_preferences(data)
    cache = tmp_path / "cache"
    losses = []
    for run in (tmp_path / "cold", tmp_path / "warm"):
        recipe = tiny_train_recipe(data, *DPO_STAGE(pairs), *SHORT[:-1], "stages.finetune.max_steps=3",
                                   cache=cache)
        summary = train(recipe, run, progress=False)
        assert summary["stages"]["finetune"]["feature_cache"]["entries"] > 0
        losses.append([r["loss"] for r in _records(run)])
    assert losses[0] == losses[1]
