"""torchrun with 2 CPU ranks (gloo): DDP and FSDP2 give the 1-rank losses at equal global batch (lm and dpo
stages), and a 2-rank FSDP checkpoint resumes on 1 rank."""

from __future__ import annotations

import os
import shutil

import pytest

from mmbind.train import train
from mmbind.train.checkpoint import list_checkpoints, read_state
from tests.support.helpers import run_two_ranks
from tests.support.preferences import DPO_STAGE, make_preferences
from tests.support.train import TRAIN_RECIPE, data_overrides, logged_losses, make_data, tiny_train_recipe

SETTINGS = [
    "stages.pretrain.max_steps=2", "stages.finetune.max_steps=4",
    "stages.pretrain.global_batch=4", "stages.pretrain.per_device_batch=2",
    "stages.finetune.global_batch=4", "stages.finetune.per_device_batch=2",
    "stages.finetune.save_every_steps=2", "stages.finetune.keep_last=5",
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    data = make_data(root / "data", images=3, videos=3, text_only=2)
    reference = root / "one-rank"
    train(tiny_train_recipe(data, *SETTINGS), reference, progress=False)
    return root, data, logged_losses(reference)


def _torchrun(data, run, *extra: str) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    run_two_ranks(["-m", "mmbind", "train", str(TRAIN_RECIPE), *data_overrides(data), *SETTINGS, *extra,
                   "--output", str(run), "--no-progress"], env)


def _assert_close(got, want) -> None:
    assert [(s, n) for s, n, _ in got] == [(s, n) for s, n, _ in want]
    assert all(abs(a - b) < 1e-4 for (_, _, a), (_, _, b) in zip(got, want)), (got, want)


@pytest.mark.slow
def test_ddp_two_ranks_match_one_rank(setup):
    root, data, reference = setup
    _torchrun(data, root / "ddp")
    _assert_close(logged_losses(root / "ddp"), reference)


@pytest.mark.slow
def test_fsdp_two_ranks_match_and_resume_on_one_rank(setup):
    root, data, reference = setup
    run = root / "fsdp"
    # stage 1 sharded ZeRO-2-style (parameters kept gathered until backward), stage 2 ZeRO-3-style
    _torchrun(data, run, "stages.pretrain.strategy=fsdp_zero2", "stages.finetune.strategy=fsdp")
    _assert_close(logged_losses(run), reference)
    # keep only what existed after finetune step 2, then continue on one rank
    shutil.rmtree(run / "stages" / "finetune")
    for path in list_checkpoints(run):
        if read_state(path)["stage"] == "finetune" and read_state(path)["step"] > 2:
            shutil.rmtree(path)
    assert read_state(list_checkpoints(run)[-1])["world_size"] == 2
    recipe = tiny_train_recipe(
        data, *SETTINGS, "stages.pretrain.strategy=fsdp_zero2", "stages.finetune.strategy=fsdp"
    )
    train(recipe, run, resume=True, progress=False)
    _assert_close(logged_losses(run), reference)


@pytest.fixture(scope="module")
def dpo_setup(setup):
    root, data, _ = setup
    pairs = make_preferences(data)
    reference = root / "dpo-one-rank"
    train(tiny_train_recipe(data, *SETTINGS, *DPO_STAGE(pairs)), reference, progress=False)
    return pairs, logged_losses(reference)


@pytest.mark.slow
def test_dpo_ddp_two_ranks_match_one_rank(setup, dpo_setup):
    root, data, _ = setup
    pairs, reference = dpo_setup
    _torchrun(data, root / "dpo-ddp", *DPO_STAGE(pairs))
    _assert_close(logged_losses(root / "dpo-ddp"), reference)


@pytest.mark.slow
def test_dpo_fsdp_two_ranks_with_a_precomputed_reference_match_one_rank(setup, dpo_setup):
    root, data, _ = setup
    pairs, reference = dpo_setup
    run = root / "dpo-fsdp"
    _torchrun(data, run, *DPO_STAGE(pairs, "{beta: 0.1, reference: precomputed}"),
              "stages.finetune.strategy=fsdp")
    _assert_close(logged_losses(run), reference)
    assert (run / "reference" / "finetune.safetensors").is_file()  # scored by both ranks, written once
