"""recipe_show.py

Benchmark: wall time of ``mmbind recipe show tiny/train`` (the whole recipe check: YAML and bases, the
schemas, the plugins the recipe names and their options) against ``python -c "import torch"``.

Each round runs both, alternating, in fresh subprocesses (a machine that gets busier slows both alike), after
one untimed call of each that fills the OS file cache. Prints one line per round, then ONE JSON object as
the last line: the median seconds of each and the ratio of the medians (and the median of the rounds'
ratios).

    .venv/bin/python benchmarks/recipe_show.py [--rounds 7] [--recipe tiny/train]
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


def seconds(command: list[str]) -> float:
    """Wall time of one call of ``command`` (which must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, env=command_env(), check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (medians reported)")
    parser.add_argument("--recipe", default="tiny/train", help="the recipe shown")
    args = parser.parse_args()
    torch_cmd = [sys.executable, "-c", "import torch"]
    show_cmd = [*mmbind_command(), "recipe", "show", args.recipe]
    seconds(torch_cmd), seconds(show_cmd)  # warm-up: the OS file cache
    torch_s, show_s = [], []
    for index in range(args.rounds):
        torch_s.append(seconds(torch_cmd))
        show_s.append(seconds(show_cmd))
        print(f"round {index + 1}: import torch {torch_s[-1]:5.2f} s, recipe show {show_s[-1]:5.2f} s "
              f"({show_s[-1] / torch_s[-1]:.2f}x)", file=sys.stderr)
    medians = {"import_torch": statistics.median(torch_s), "mmbind_recipe_show": statistics.median(show_s)}
    result = {
        "benchmark": "recipe_show",
        "recipe": args.recipe,
        "rounds": args.rounds,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "seconds": {k: round(v, 3) for k, v in medians.items()},
        "ratio_to_import_torch": round(medians["mmbind_recipe_show"] / medians["import_torch"], 2),
        "median_round_ratio": round(statistics.median(s / t for s, t in zip(show_s, torch_s)), 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
