"""The serving benchmarks run and compare equal work: `benchmarks/serve_throughput.py` (8 concurrent clients
against the same requests one after another) and `benchmarks/infer_throughput.py` (`mmbind infer` against
one-at-a-time ``model.generate``) give identical answers on both sides. Speed itself is measured by running
the benchmarks, never asserted here (timings on a shared machine are not a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(name: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_serve_benchmark_compares_identical_answers():
    result = run_benchmark("serve_throughput.py", "--requests", "16", "--rounds", "2")
    assert result["same_answers"] is True and result["speedup"] > 0


@pytest.mark.slow
def test_infer_benchmark_compares_identical_answers():
    result = run_benchmark("infer_throughput.py", "--rows", "16")
    assert result["same_answers"] is True and result["speedup"] > 0
