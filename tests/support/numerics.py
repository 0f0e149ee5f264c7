"""Shared helpers of the numerics tests: the tiny two-stage training run through ``mmbind train`` in a
subprocess that simulates another machine (its own ATen CPU capability and thread count), and the bits of
what it trained."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from safetensors.torch import load_file

from mmbind.numerics.pin import MODE_ENV, PORTABLE, THREAD_VARS
from tests.support.helpers import run_command
from tests.support.train import TRAIN_RECIPE, data_overrides

ROOT = Path(__file__).resolve().parents[2]
SHORT = [  # 4 + 5 optimizer steps, learning from the first
    "stages.pretrain.global_batch=2", "stages.pretrain.per_device_batch=1", "stages.pretrain.epochs=1",
    "stages.pretrain.warmup_ratio=0", "stages.finetune.global_batch=2", "stages.finetune.per_device_batch=2",
    "stages.finetune.epochs=1", "stages.finetune.lr=1e-3",
]
MACHINES = {  # two machines of one kind that pick other kernels and thread counts
    "avx2-1thread": {"ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "avx512-2threads": {"ATEN_CPU_CAPABILITY": "avx512", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"},
}


def machine_env(machine: dict[str, str]) -> dict[str, str]:
    """This process's environment without any numerics setting, plus ``machine``'s."""
    env = {k: v for k, v in os.environ.items() if k not in (*PORTABLE, *THREAD_VARS, MODE_ENV)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return {**env, "HF_HUB_OFFLINE": "1", **machine}


def train_short(data: Path, out: Path, machine: dict[str, str], reproducible: bool) -> Path:
    """``mmbind train tiny/train`` (short, on ``data``) into ``out`` on the simulated ``machine``."""
    command = [sys.executable, "-m", "mmbind", "train", str(TRAIN_RECIPE), *data_overrides(data), *SHORT,
               "--output", str(out), "--no-progress", *(["--reproducible"] if reproducible else [])]
    run_command(command, cwd=out.parent, env=machine_env(machine))
    return out


def final_weights(run: Path) -> dict:
    """The last stage's weights, by name."""
    files = sorted((run / "stages" / "finetune").glob("*.safetensors"))
    assert files, f"{run}: no weights"
    return {f"{f.name}:{k}": v for f in files for k, v in load_file(str(f)).items()}
