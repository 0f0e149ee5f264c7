"""Bad data and faults: bad samples are skipped, counted and reported with their ids (or stop the run by
option); a non-finite loss stops the run with a clear error and the last good checkpoint kept."""

from __future__ import annotations

import json
import re

import pytest

from mmbind.cli.main import main
from mmbind.errors import DataError
from mmbind.train import NonFiniteLossError, train
from mmbind.train.checkpoint import list_checkpoints, read_state
from tests.support.train import TRAIN_RECIPE, data_overrides, make_data, tiny_train_recipe


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = make_data(tmp_path_factory.mktemp("data"), images=2, videos=2, text_only=2)
    (root / "videos" / "corrupt.mp4").write_bytes(b"\x00" * 64)
    samples = json.loads((root / "finetune.json").read_text())
    samples += [
        {"id": "no-such-image", "image": "images/missing.png",
         "conversations": [{"from": "human", "value": "<image>\nQ?"},
                           {"from": "gpt", "value": "It is red."}]},
        {"id": "corrupt-video", "video": "videos/corrupt.mp4",
         "conversations": [{"from": "human", "value": "<video>\nQ?"},
                           {"from": "gpt", "value": "It is red."}]},
        {"id": "no-answer", "conversations": [{"from": "human", "value": "Q?"}]},
    ]
    (root / "finetune.json").write_text(json.dumps(samples))
    return root


def _finetune_only(recipe):
    recipe.stages = {"finetune": recipe.stages["finetune"]}
    return recipe


def test_bad_samples_are_skipped_counted_and_reported(data, tmp_path, capsys):
    recipe = _finetune_only(tiny_train_recipe(data, "stages.finetune.epochs=2"))
    summary = train(recipe, tmp_path / "run", progress=False)
    # 3 bad samples x 2 epochs
    assert summary["status"] == "done" and summary["stages"]["finetune"]["skipped_samples"] == 6
    rows = [json.loads(line) for line in (tmp_path / "run" / "bad_samples.jsonl").read_text().splitlines()]
    assert sorted((r["epoch"], r["id"]) for r in rows) == sorted(
        (e, i) for e in (0, 1) for i in ("no-such-image", "corrupt-video", "no-answer"))
    reasons = {r["id"]: r["reason"] for r in rows}
    assert "missing.png" in reasons["no-such-image"] and "corrupt.mp4" in reasons["corrupt-video"]
    err = " ".join(capsys.readouterr().err.split())
    assert "finetune epoch 0: 3 sample(s) skipped" in err and "no-such-image" in err


def test_fail_fast_stops_at_the_first_bad_sample(data, tmp_path):
    recipe = _finetune_only(tiny_train_recipe(
        data, "data.on_bad_sample=fail", "stages.finetune.global_batch=16",
        "stages.finetune.per_device_batch=16",
    ))
    with pytest.raises(DataError, match=r"stage finetune: bad sample \(.*\); set data.on_bad_sample: skip"):
        train(recipe, tmp_path / "run", progress=False)


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(data, tmp_path, capsys):
    overrides = [*data_overrides(data), "stages.pretrain.lr=1e30", "stages.pretrain.warmup_ratio=0",
                 "stages.pretrain.max_steps=6", "stages.pretrain.global_batch=2",
                 "stages.pretrain.per_device_batch=2", "stages.pretrain.save_every_steps=1",
                 "stages.pretrain.keep_last=10", "stages.pretrain.max_grad_norm=null"]
    run = tmp_path / "run"
    assert main(["train", str(TRAIN_RECIPE), *overrides, "--output", str(run), "--no-progress"]) == \
        NonFiniteLossError.exit_code
    err = " ".join(capsys.readouterr().err.split())
    assert re.search(r"stage pretrain step \d+: (loss|gradient norm) is (nan|inf)", err)
    assert f"last good checkpoint: {run / 'checkpoints'}" in err
    steps = [read_state(p)["step"] for p in list_checkpoints(run)]
    bad_step = int(err.split("stage pretrain step ")[1].split(":")[0])
    assert steps == list(range(1, bad_step))  # every finite step saved, nothing after the bad one
    assert not (run / "stages" / "pretrain").exists()
