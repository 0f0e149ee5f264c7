"""The reproducible mode's environment, how a process is pinned (or refused), and torch's settings in a
pinned process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mmbind.errors import NumericsError
from mmbind.numerics import MODE_ENV, ensure_pinned, pinned_env, pinned_threads, released_env
from tests.support.numerics import machine_env


def test_pinned_env_names_the_portable_baseline():
    env = pinned_env(3)
    assert env["ATEN_CPU_CAPABILITY"] == "default" and env["MKL_CBWR"] == "COMPATIBLE"
    assert env["ONEDNN_MAX_CPU_ISA"] == "SSE41" and env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "3"
    assert pinned_threads(env) == 3


def test_a_changed_variable_unpins():
    env = {**pinned_env(1), "ATEN_CPU_CAPABILITY": "avx2"}
    assert pinned_threads(env) is None
    assert pinned_threads({}) is None


def test_released_env_drops_only_what_the_mode_set():
    parent = {**pinned_env(2), "PATH": "/bin"}
    assert released_env(parent) == {"PATH": "/bin"}
    user = {"OMP_NUM_THREADS": "4", "PATH": "/bin"}  # not pinned by mmbind: the user's own, kept
    assert released_env(user) == user


def test_a_process_with_torch_started_is_refused(monkeypatch):
    for name in pinned_env(1):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(NumericsError, match="before torch is imported.*--reproducible"):
        ensure_pinned(1, reexec=False, who="recipe.yaml: numerics.reproducible")


PROBE = """
import os, sys
from mmbind.numerics import ensure_pinned
ensure_pinned(2, reexec=False, who="probe")
import torch
from mmbind.numerics import configure_torch
configure_torch()
print(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads(), torch.get_num_interop_threads(),
      torch.are_deterministic_algorithms_enabled(), os.environ["MMBIND_NUMERICS"])
"""


@pytest.mark.slow
def test_pinning_before_torch_changes_its_kernels_and_threads():
    env = machine_env({"ATEN_CPU_CAPABILITY": "avx2", "OMP_NUM_THREADS": "1"})
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["DEFAULT", "2", "2", "True", "reproducible", "threads=2"]


REEXEC = """
import sys
import torch  # started before the mode is known, as when a recipe's plugins import it
from mmbind.numerics import ensure_pinned, pinned_threads
print("start", pinned_threads(), torch.backends.cpu.get_cpu_capability(), flush=True)
ensure_pinned(1, reexec=True, who="probe")
print("pinned", pinned_threads(), torch.backends.cpu.get_cpu_capability())
"""


@pytest.mark.slow
def test_the_command_line_process_executes_itself_again_pinned(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(REEXEC)
    env = machine_env({"ATEN_CPU_CAPABILITY": "avx2"})
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["start None AVX2", "start 1 DEFAULT", "pinned 1 DEFAULT"]
    assert MODE_ENV not in env
