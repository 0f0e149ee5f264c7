"""cli_startup.py

Benchmark: wall time of short ``mmbind`` commands against ``python -c "import torch"``.

Runs each command in a fresh subprocess (the ``mmbind`` console script of the running interpreter's
environment, with ``HF_HUB_OFFLINE=1``), ``--runs`` times after one warm-up call that fills the OS file
cache, and keeps the median. Prints one line per command, then ONE JSON object as the last line: median
seconds per command and its ratio to the torch import.

    .venv/bin/python benchmarks/cli_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "common"))
from mmbind_cli import command_env, mmbind_command  # noqa: E402


def commands() -> dict[str, list[str]]:
    """The timed commands, by label."""
    cli = mmbind_command()
    return {
        "import_torch": [sys.executable, "-c", "import torch"],
        "mmbind_help": [*cli, "--help"],
        "mmbind_recipe_show": [*cli, "recipe", "show", "tiny/train"],
    }


def median_seconds(command: list[str], runs: int) -> float:
    """Median wall time of ``runs`` calls of ``command`` (after one untimed warm-up call)."""
    env = command_env()
    subprocess.run(command, env=env, check=True, capture_output=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--runs", type=int, default=5, help="timed calls per command (median reported)")
    args = parser.parse_args()
    seconds = {}
    for label, command in commands().items():
        seconds[label] = median_seconds(command, args.runs)
        print(f"{label:20s} {seconds[label]:6.2f} s  ({' '.join(command[-3:])})", file=sys.stderr)
    torch_s = seconds["import_torch"]
    result = {
        "benchmark": "cli_startup",
        "runs": args.runs,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "ratio_to_import_torch": {
            k: round(v / torch_s, 2) for k, v in seconds.items() if k != "import_torch"
        },
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
