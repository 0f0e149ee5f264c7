"""Checkpoints and exact resume: a run SIGKILLed mid-epoch and resumed ends bit-identical to an uninterrupted
one; Ctrl-C saves a checkpoint and exits 130; ``--resume`` continues; the last N checkpoints are kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from mmbind.cli.main import main
from mmbind.train.checkpoint import list_checkpoints, read_state
from tests.support.helpers import bit_identical, wait_until_paused
from tests.support.preferences import DPO_STAGE, make_preferences
from tests.support.train import TRAIN_RECIPE, data_overrides, logged_losses, make_data

DRIVER = Path(__file__).resolve().parents[1] / "support" / "train_driver.py"
DROPOUT = "model.llm.options.config.attention_dropout=0.2"  # randomness in every step: RNG state must resume


def _driver(data: Path, run: Path, mode: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    return subprocess.Popen([sys.executable, str(DRIVER), str(data), str(run), mode, DROPOUT, *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["lm", "dpo"])
def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path, kind):
    data = make_data(tmp_path / "data", images=3, videos=3, text_only=2)
    # dpo: 8 pairs, the reference precomputed before the stage and reused by the resumed run
    extra = DPO_STAGE(make_preferences(data), "{beta: 0.5, reference: precomputed}") if kind == "dpo" else []
    full, killed = tmp_path / "full", tmp_path / "killed"
    reference = _driver(data, full, "full", *extra)
    paused = _driver(data, killed, "pause", *extra)
    assert reference.wait(timeout=240) == 0, reference.stdout.read()
    wait_until_paused(paused, killed)
    paused.send_signal(signal.SIGKILL)
    assert paused.wait(timeout=30) == -signal.SIGKILL
    assert not (killed / "stages" / "finetune").exists()
    latest = list_checkpoints(killed)[-1]
    # mid-epoch (4 steps per epoch)
    assert read_state(latest)["stage"] == "finetune" and read_state(latest)["step"] == 3
    if kind == "dpo":
        scored = (killed / "reference" / "finetune.safetensors").stat().st_mtime_ns
    resumed = _driver(data, killed, "resume", *extra)
    assert resumed.wait(timeout=240) == 0, resumed.stdout.read()
    assert bit_identical(load_file(str(killed / "stages" / "finetune" / "model.safetensors")),
                         load_file(str(full / "stages" / "finetune" / "model.safetensors")))
    assert logged_losses(killed) == logged_losses(full)  # replayed steps are not logged twice
    if kind == "dpo":  # the resumed run read the reference back instead of scoring it again
        assert (killed / "reference" / "finetune.safetensors").stat().st_mtime_ns == scored


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(tmp_path, capsys):
    data = make_data(tmp_path / "data", images=2, videos=2, text_only=2)
    run = tmp_path / "run"
    args = [*data_overrides(data), "stages.pretrain.max_steps=1", "stages.finetune.max_steps=20",
            "stages.finetune.global_batch=2", "stages.finetune.per_device_batch=2",
            "stages.finetune.save_every_steps=2", "stages.finetune.keep_last=2"]

    def interrupt_after_second_finetune_checkpoint() -> None:
        while not any(read_state(p)["stage"] == "finetune" and read_state(p)["step"] >= 4
                      for p in list_checkpoints(run)):
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    watcher = threading.Thread(target=interrupt_after_second_finetune_checkpoint, daemon=True)
    watcher.start()
    assert main(["train", str(TRAIN_RECIPE), *args, "--output", str(run), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert f"continue with: mmbind train --resume {run}" in " ".join(err.split())
    # the stop step's checkpoint (compared without whitespace: rich folds the long path)
    assert f"interrupted:checkpoint{list_checkpoints(run)[-1]};" in "".join(err.split())
    kept = [read_state(p)["step"] for p in list_checkpoints(run)]
    # the stop step's, and pruned to the last 2
    assert len(kept) == 2 and kept[0] % 2 == 0 and 4 < kept[1] < 20
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    steps = [s for stage, s, _ in logged_losses(run) if stage == "finetune"]
    assert steps == list(range(1, 21))
    weights = load_file(str(run / "stages" / "finetune" / "model.safetensors"))
    assert "llm.model.lm_head.weight" in weights or "llm.model.model.embed_tokens.weight" in weights
