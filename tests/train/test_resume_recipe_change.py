"""A recipe change accepted on resume (``--allow-recipe-change``) is applied to the remaining steps: the
optimizer's settings (learning rates, weight decay, betas, epsilon) stay the recipe's after the checkpoint's
optimizer and scheduler state are restored, so the resumed steps log the new learning rate and end with
other weights than the unedited run; a change to a stage that has already finished (resuming skips it) is
refused even when named, since it could not be applied."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml
from safetensors.torch import load_file

from mmbind.cli.main import main
from mmbind.errors import CheckpointError
from mmbind.recipe import load_recipe
from mmbind.train import StepInfo, train
from mmbind.train.loop import Interrupt
from mmbind.train.recipe_lock import check_recipe_change, write_lock
from mmbind.train.recipe_settings import reapply_recipe_settings, recipe_settings
from tests.support.train import TRAIN_RECIPE, make_data, tiny_train_recipe


def _optimizer(lr: float, weight_decay: float, steps: int):
    from mmbind.recipe.training_schema import StageSpec
    from mmbind.train.optim import build_optimizer, build_scheduler, decay_groups

    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(3, 3))
    stage = StageSpec(lr=lr, weight_decay=weight_decay, warmup_ratio=0.2, adam_eps=1e-6 if lr > 0.1 else 1e-8)
    optimizer = build_optimizer(decay_groups([weight], lr, weight_decay), stage)
    scheduler = build_scheduler(optimizer, stage, 10)
    for _ in range(steps):
        weight.grad = torch.ones_like(weight)
        optimizer.step()
        scheduler.step()
    return optimizer, scheduler


def test_the_recipe_settings_survive_a_restore():
    saved_opt, saved_sched = _optimizer(0.01, 0.0, steps=4)
    optimizer, scheduler = _optimizer(0.5, 0.1, steps=0)  # the edited recipe, before the restore
    settings = recipe_settings(optimizer)
    optimizer.load_state_dict(saved_opt.state_dict())
    scheduler.load_state_dict(saved_sched.state_dict())
    assert optimizer.param_groups[0]["initial_lr"] == 0.01  # what the restore alone leaves: the old rate
    reapply_recipe_settings(optimizer, scheduler, settings)
    group = optimizer.param_groups[0]
    factor = saved_sched.get_last_lr()[0] / 0.01
    assert group["initial_lr"] == 0.5 and group["weight_decay"] == 0.1 and group["eps"] == 1e-6
    assert group["lr"] == pytest.approx(0.5 * factor) and scheduler.get_last_lr() == [group["lr"]]
    assert optimizer.state_dict()["state"] == saved_opt.state_dict()["state"]  # AdamW's moments kept
    assert scheduler.last_epoch == 4


def test_a_change_to_a_finished_stage_is_refused_even_when_named(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_lock(run, load_recipe(TRAIN_RECIPE))
    (run / "stages" / "pretrain").mkdir(parents=True)
    edited = load_recipe(TRAIN_RECIPE, ["stages.pretrain.lr=0.5", "stages.finetune.lr=0.5"])
    with pytest.raises(CheckpointError, match=r"changes stage\(s\) that have already finished "
                                              r"\(stages.pretrain.lr: 0.001 -> 0.5\); resuming skips "
                                              r"finished stages \(pretrain\), so the change cannot be "):
        check_recipe_change(run, edited, ["stages"])
    accepted = check_recipe_change(run, load_recipe(TRAIN_RECIPE, ["stages.finetune.lr=0.5"]),
                                   ["stages.finetune.lr"])
    assert accepted == ["stages.finetune.lr: 0.0002 -> 0.5"]


def _stop_after(step: int):
    def callback(info: StepInfo) -> None:
        if info.step == step:
            Interrupt.requested = True
    return callback


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """finetune only, 5 steps, stopped with a checkpoint at step 3."""
    root = tmp_path_factory.mktemp("lr")
    data = make_data(root / "data", images=2, videos=0, text_only=2)
    recipe = tiny_train_recipe(data, "stages.finetune.max_steps=5", "stages.finetune.global_batch=2",
                               "stages.finetune.per_device_batch=2", "stages.finetune.warmup_ratio=0",
                               "stages.finetune.scheduler=constant_with_warmup")
    recipe.stages = {"finetune": recipe.stages["finetune"]}
    assert train(recipe, root / "run", callbacks=[_stop_after(2)], progress=False)["status"] == "interrupted"
    return root / "run"


def _resumed(base, tmp_path, capsys, name: str, lr: float | None):
    run = tmp_path / name
    shutil.copytree(base, run)
    extra = []
    if lr is not None:
        data = yaml.safe_load((run / "recipe.yaml").read_text())
        data["stages"]["finetune"]["lr"] = lr
        (run / "recipe.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
        extra = ["--allow-recipe-change", "stages.finetune.lr"]
    assert main(["train", "--resume", str(run), "--no-progress", *extra]) == 0, capsys.readouterr().err
    rates = {r["step"]: r["lr"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
             if "lr" in r}
    return rates, load_file(str(run / "stages" / "finetune" / "model.safetensors"))


@pytest.mark.slow
def test_a_raised_learning_rate_is_applied_to_the_resumed_steps(interrupted, tmp_path, capsys):
    same_rates, same_weights = _resumed(interrupted, tmp_path, capsys, "same", None)
    raised_rates, raised_weights = _resumed(interrupted, tmp_path, capsys, "raised", 2.0e-3)
    assert [same_rates[s] for s in (1, 2, 3)] == [raised_rates[s] for s in (1, 2, 3)] == [2.0e-4] * 3
    assert [raised_rates[s] for s in (4, 5)] == [2.0e-3] * 2 and [same_rates[s] for s in (4, 5)] == [2e-4] * 2
    assert any(not torch.equal(same_weights[k], raised_weights[k]) for k in same_weights)
