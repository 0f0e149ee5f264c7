"""Runs the tiny two-stage training deterministically in a subprocess (used by the resume tests).

    python tests/support/train_driver.py DATA_DIR|RECIPE.yaml RUN_DIR full|pause|wait|resume [KEY=VALUE ...]

``pause`` writes RUN_DIR/PAUSED after finetune step 5 (mid-epoch, after the step-3 checkpoint) and then
sleeps so the test can SIGKILL it; ``wait`` does the same but waits for a SIGINT / SIGTERM, after which
the run stops with a checkpoint at step 5 and exits 128 + the signal number, as ``mmbind train`` does;
``resume`` continues RUN_DIR. Given a recipe file instead of a data
directory, that recipe runs as it is (with the overrides) and the pause comes after step 5 of its first stage.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.support

from mmbind.recipe import load_recipe  # noqa: E402
from mmbind.train import StepInfo, train  # noqa: E402
from mmbind.train.loop import Interrupt  # noqa: E402
from tests.support.train import tiny_train_recipe  # noqa: E402

STAGES = [
    "stages.pretrain.global_batch=2", "stages.pretrain.per_device_batch=1", "stages.pretrain.epochs=1",
    "stages.finetune.global_batch=2", "stages.finetune.per_device_batch=1", "stages.finetune.epochs=2",
    "stages.finetune.save_every_steps=3", "stages.pretrain.save_every_steps=2",
    "stages.finetune.lr=1e-3", "stages.pretrain.warmup_ratio=0",
]


def main() -> None:
    data, run, mode, *extra = sys.argv[1:]
    if data.endswith(".yaml"):
        recipe = load_recipe(data, extra)
        where = next(iter(recipe.stages))
    else:
        recipe, where = tiny_train_recipe(Path(data), *STAGES, *extra), "finetune"

    def pause(info: StepInfo) -> None:
        if mode == "pause" and info.stage == where and info.step == 5:
            (Path(run) / "PAUSED").write_text("paused")
            time.sleep(600)
        if mode == "wait" and info.stage == where and info.step == 5:
            (Path(run) / "PAUSED").write_text("waiting")
            deadline = time.time() + 600
            while not Interrupt.requested and time.time() < deadline:
                time.sleep(0.02)

    summary = train(recipe, run, resume=mode == "resume", callbacks=[pause], progress=False)
    if summary["status"] == "interrupted":
        sys.exit(143 if summary.get("signal") == "SIGTERM" else 130)


if __name__ == "__main__":
    main()
