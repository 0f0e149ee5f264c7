"""recipe_show.py

Benchmark: wall time of ``mmbind recipe show tiny/train`` (the whole recipe check: YAML and bases, the
schemas, the plugins the recipe names and their options) against ``python -c "import torch"``.

Each round runs, alternating, in fresh subprocesses (a machine that gets busier slows all alike): the torch
import; the recipe check with the transformers configs it checked before remembered (``warm``: a cache
folder of this benchmark's, filled by the untimed first call); and the same with an empty cache folder
(``cold``: as on a first run; a config is proven valid from transformers' source, or built by it). An untimed
call of each fills the OS file cache first. Prints one line per round, then ONE JSON object as the last
line: the median seconds of each and their ratios to the torch import (ratios of the medians).

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
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "common"))
from mmbind_cli import command_env, mmbind_command  # noqa: E402


def seconds(command: list[str], cache: str | None = None) -> float:
    """Wall time of one call of ``command`` (which must succeed), with ``cache`` as mmbind's cache folder."""
    env = command_env() | ({"MMBIND_CACHE_DIR": cache} if cache else {})
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (medians reported)")
    parser.add_argument("--recipe", default="tiny/train", help="the recipe shown")
    args = parser.parse_args()
    torch_cmd = [sys.executable, "-c", "import torch"]
    show_cmd = [*mmbind_command(), "recipe", "show", args.recipe]
    times: dict[str, list[float]] = {"import_torch": [], "recipe_show_warm": [], "recipe_show_cold": []}
    with tempfile.TemporaryDirectory(prefix="mmbind-bench-cache-") as work:
        warm = str(Path(work) / "warm")
        seconds(torch_cmd), seconds(show_cmd, warm)  # the OS file cache, and the warm cache folder
        for index in range(args.rounds):
            times["import_torch"].append(seconds(torch_cmd))
            times["recipe_show_warm"].append(seconds(show_cmd, warm))
            times["recipe_show_cold"].append(seconds(show_cmd, str(Path(work) / f"cold-{index}")))
            print(f"round {index + 1}: " + ", ".join(f"{k} {v[-1]:5.2f} s" for k, v in times.items()),
                  file=sys.stderr)
    medians = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "benchmark": "recipe_show",
        "recipe": args.recipe,
        "rounds": args.rounds,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "seconds": {k: round(v, 3) for k, v in medians.items()},
        "ratio_to_import_torch": {
            k: round(v / medians["import_torch"], 2) for k, v in medians.items() if k != "import_torch"
        },
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
