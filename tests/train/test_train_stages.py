"""Stages from the recipe: schema and defaults, freezing and per-part learning rates, the schedule, and a
whole two-stage run through the CLI (run directory, metrics, plot, stage outputs chained)."""

from __future__ import annotations

import json

import pytest
import torch

import mmbind
from mmbind.cli.main import main
from mmbind.errors import RecipeError
from mmbind.model.weights import load_state_dict
from mmbind.recipe.training_schema import StageSpec, video_llava_stages
from mmbind.train.distributed import DistInfo
from mmbind.train.metrics import MetricsLog
from mmbind.train.setup import accumulation_steps, prepare_model
from tests.support.train import TRAIN_RECIPE, data_overrides, make_data, tiny_train_recipe


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data"), images=3, videos=3, text_only=2)


def test_defaults_are_video_llava():
    stage1 = StageSpec()
    assert ((stage1.train, stage1.lr, stage1.global_batch, stage1.per_device_batch)
            == (["projector"], 1e-3, 256, 32))
    assert ((stage1.warmup_ratio, stage1.weight_decay, stage1.scheduler, stage1.epochs)
            == (0.03, 0.0, "cosine", 1.0))
    stage2 = video_llava_stages()["finetune"]
    assert (stage2.train, stage2.lr, stage2.global_batch) == (["projector", "llm"], 2e-5, 128)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("stages.pretrain.train=[tower]", r"stages\.pretrain\.train: Value error, unknown part 'tower'"),
        ("stages.pretrain.global_batch=10", r"global_batch 10 is not a multiple of per_device_batch 4"),
        ("stages.pretrain.lr={llm: 0.1}", r"lr per part must name exactly the trained parts \['projector'\]"),
        ("stages.pretrain.warmup_ratio=2",
         r"stages\.pretrain\.warmup_ratio: Input should be less than or equal to 1"),
        ("stages.pretrain.lr=-1",
         r"stages\.pretrain\.lr: Value error, learning rates must be finite and > 0 \(got -1\)"),
        ("stages.pretrain.lr=.nan",
         r"stages\.pretrain\.lr: Value error, learning rates must be finite and > 0"),
        ("stages.pretrain.lr={projector: .inf}",
         r"stages\.pretrain\.lr: Value error, learning rates must be finite"),
        ("stages.pretrain.adam_betas=[0.9,1.0]",
         r"stages\.pretrain\.adam_betas: Value error, AdamW betas must lie"),
        ("stages.pretrain.max_grad_norm=-1",
         r"stages\.pretrain\.max_grad_norm: Input should be greater than 0"),
        ("stages.pretrain.max_grad_norm=.inf",
         r"stages\.pretrain\.max_grad_norm: Input should be a finite number"),
        ("stages.pretrain.seed=4294967296",
         r"stages\.pretrain\.seed: Input should be less than or equal to 4294967295"),
        ("stages.pretrain.seed=-1", r"stages\.pretrain\.seed: Input should be greater than or equal to 0"),
        ("model.seed=-1", r"model\.seed: Input should be greater than or equal to 0"),
        ("stages.pretrain.epochs=.inf", r"stages\.pretrain\.epochs: Input should be a finite number"),
        ("stages.finetune.dataset=finetun",  # the LAST stage's dataset: found before any stage trains
         r"train\.yaml: stages\.finetune\.dataset: no dataset 'finetun' in data\.datasets "
         r"\(known: pretrain, finetune\)"),
    ],
)
def test_stage_errors_name_the_field(data, override, message):
    with pytest.raises(RecipeError, match=message):
        tiny_train_recipe(data, override)


def test_accumulation_follows_global_batch_and_world_size():
    stage = StageSpec(global_batch=16, per_device_batch=2)
    assert accumulation_steps(stage, 1, "s") == 8 and accumulation_steps(stage, 4, "s") == 2
    with pytest.raises(RecipeError,
                       match=r"s: global_batch 16 is not a multiple of per_device_batch 2 x 3 rank"):
        accumulation_steps(stage, 3, "s")
    with pytest.raises(RecipeError, match=r"grad_accum 3 disagrees .* = 8"):
        accumulation_steps(StageSpec(global_batch=16, per_device_batch=2, grad_accum=3), 1, "s")


def test_a_stage_trains_only_its_parts_with_their_learning_rates(data):
    recipe = tiny_train_recipe(data)
    model = mmbind.build_model(recipe)
    stage = StageSpec(train=["projector", "llm"], lr={"projector": 1e-3, "llm": 2e-5}, weight_decay=0.1,
                      warmup_ratio=0.25, global_batch=4, per_device_batch=4)
    prepared = prepare_model(model, stage, DistInfo(), total_steps=8, cache=None)
    assert not any(p.requires_grad for e in model.encoders.values() for p in e.parameters())
    assert all(p.requires_grad for p in model.llm.parameters())
    groups = {g["name"]: g for g in prepared.optimizer.param_groups}
    assert set(groups) == {"projector/decay", "projector/no_decay", "llm/decay", "llm/no_decay"}
    assert groups["projector/decay"]["initial_lr"] == 1e-3 and groups["llm/decay"]["initial_lr"] == 2e-5
    assert groups["llm/no_decay"]["weight_decay"] == 0.0 and groups["llm/decay"]["weight_decay"] == 0.1
    assert all(p.ndim < 2 for p in groups["llm/no_decay"]["params"])
    lrs = []
    for _ in range(8):
        lrs.append(prepared.optimizer.param_groups[0]["lr"])
        prepared.optimizer.step()
        prepared.scheduler.step()
    # 2 warm-up steps
    assert lrs[0] == 0.0 and lrs[1] == pytest.approx(5e-4) and lrs[2] == pytest.approx(1e-3)
    assert lrs[2:] == sorted(lrs[2:], reverse=True) and lrs[-1] < 1e-4  # cosine decay


@pytest.mark.slow
def test_training_fits_a_small_batch(data, tmp_path):
    recipe = tiny_train_recipe(data, "stages.finetune.lr=3e-3", "stages.finetune.max_steps=25",
                               "stages.finetune.warmup_ratio=0",
                               "stages.finetune.scheduler=constant_with_warmup",
                               "stages.finetune.packing=true")
    recipe.stages = {"finetune": recipe.stages["finetune"]}
    from mmbind.train import train

    train(recipe, tmp_path / "run", progress=False)
    records = MetricsLog(tmp_path / "run").records()
    losses = [r["loss"] for r in records]
    assert len(losses) == 25 and losses[-1] < 0.5 * losses[0]
    assert all(r["pad_fraction"] == 0 and r["samples"] == 8 for r in records)  # packed: no padding computed


@pytest.mark.slow
def test_two_stage_run_through_the_cli(data, tmp_path, capsys):
    run = tmp_path / "run"
    status = main(["train", str(TRAIN_RECIPE), *data_overrides(data), "stages.pretrain.epochs=1",
                   "stages.pretrain.warmup_ratio=0", "stages.finetune.warmup_ratio=0",
                   "stages.finetune.epochs=1", "--output", str(run), "--no-progress"])
    assert status == 0
    assert "run directory: " in capsys.readouterr().out
    assert (run / "recipe.yaml").is_file() and (run / "loss.png").read_bytes()[:4] == b"\x89PNG"
    records = MetricsLog(run).records()
    assert [(r["stage"], r["step"]) for r in records] == [("pretrain", 1), ("finetune", 1)]
    assert all({"loss", "lr", "tokens_per_s", "pad_fraction"} <= set(r) for r in records)
    assert records[1]["pad_fraction"] > 0  # mixed image / video / text rows padded to the longest
    initial = mmbind.build_model(tiny_train_recipe(data)).state_dict()
    stage1, _ = load_state_dict(run / "stages" / "pretrain")
    stage2, _ = load_state_dict(run / "stages" / "finetune")
    for name, tensor in stage1.items():
        trained = name.startswith("projectors.")
        assert torch.equal(tensor, initial[name]) != trained, name  # stage 1 changed the projector only
        if name.startswith("encoders."):
            assert torch.equal(stage2[name], tensor)  # towers frozen throughout
    assert any(not torch.equal(stage2[n], stage1[n]) for n in stage1 if n.startswith("llm."))
    model = mmbind.load_pretrained(run / "stages" / "finetune")
    assert torch.equal(model.state_dict()["projectors.shared.layers.0.weight"],
                       stage2["projectors.shared.layers.0.weight"])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "done" and summary["stages"]["finetune"]["steps"] == 1
    assert main(["train", str(TRAIN_RECIPE), *data_overrides(data), "--output", str(run)]) == 2  # run exists


@pytest.mark.slow
def test_gradient_checkpointing_gives_the_same_gradients(data):
    from mmbind.data import build_stage_data

    grads = []
    for checkpointing in (False, True):
        recipe = tiny_train_recipe(data)
        model = mmbind.build_model(recipe)
        stage = StageSpec(train=["projector", "llm"], global_batch=8, per_device_batch=8,
                          gradient_checkpointing=checkpointing)
        prepared = prepare_model(model, stage, DistInfo(), total_steps=1, cache=None)
        assert model.llm.model.is_gradient_checkpointing == checkpointing
        dataset, _, collator = build_stage_data(recipe.data, "finetune", stage, model)
        prepared.module(collator([dataset[i] for i in range(len(dataset))])).backward()
        grads.append(torch.cat([p.grad.flatten() for p in prepared.params]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
