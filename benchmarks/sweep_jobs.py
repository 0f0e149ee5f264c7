"""sweep_jobs.py

Benchmark: the wall time of one ablation sweep run one by one (``mmbind ablate SWEEP``, today's default)
against the same sweep with ``--jobs N`` (N runs at once, the cores split between them), side by side on
this machine, and whether both gave the same results.

Each side runs in its own folder (its own shared-run store and feature cache, so neither reuses the other's
work) on the same dataset (``--data``, generated once if missing, linked as ``data/study`` in both
folders). ``--variants`` keeps only some of the sweep's variants; ``--seeds`` replaces its seeds (default:
2 variants x 2 seeds = 4 runs). With ``--reproducible`` both sides run in the reproducible numerics mode and
their losses, weights and answers must be bit-identical; without it the one-by-one runs use every core and
the parallel ones cores / N threads, so their bits may differ (their numerics fingerprints say so). ONE
JSON object last.

    .venv/bin/python benchmarks/sweep_jobs.py [--sweep ablations/alignment] [--variants united,separated_clip]
        [--seeds 0,1] [--jobs 2] [--reproducible] [--data data/study] [KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def subset_sweep(sweep: Path, variants: list[str] | None, out: Path) -> Path:
    """A copy of ``sweep`` with only ``variants``, its recipe paths made absolute."""
    data = yaml.safe_load(sweep.read_text())
    data["base"] = str((sweep.parent / data["base"]).resolve())
    for spec in data["variants"].values():
        if spec and spec.get("recipe"):
            spec["recipe"] = str((sweep.parent / spec["recipe"]).resolve())
    if variants:
        missing = [v for v in variants if v not in data["variants"]]
        if missing:
            raise SystemExit(f"{sweep}: no variant(s) {', '.join(missing)}")
        data["variants"] = {k: v for k, v in data["variants"].items() if k in variants}
    data.pop("output", None)
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def digests(output: Path) -> dict[str, str]:
    """Per run: SHA-256 over its logged losses, final weights (by tensor name) and eval answers."""
    from safetensors.torch import load_file

    out = {}
    for run in sorted(p.parent for p in output.glob("*/seed*/summary.json")):
        h = hashlib.sha256()
        for line in (run / "metrics.jsonl").read_text().splitlines():
            record = json.loads(line)
            h.update(repr((record.get("stage"), record.get("step"), record.get("loss"))).encode())
        last = sorted((run / "stages").iterdir())[-1] if (run / "stages").is_dir() else None
        for file in sorted(last.glob("*.safetensors")) if last else []:
            for name, tensor in sorted(load_file(str(file)).items()):
                h.update(name.encode())
                h.update(tensor.reshape(-1).view(-1).contiguous().numpy().tobytes())
        for result in sorted((run / "eval").glob("*.json")):
            rows = json.loads(result.read_text()).get("predictions") or []
            h.update(json.dumps([[r.get("id"), r.get("answer")] for r in rows]).encode())
        out[f"{run.parent.name}/{run.name}"] = h.hexdigest()[:16]
    return out


def run_side(work: Path, sweep: Path, data: Path, seeds: str, extra: list[str],
             overrides: list[str]) -> float:
    """Run the sweep in ``work``; returns its wall time."""
    (work / "data").mkdir(parents=True)
    (work / "data" / "study").symlink_to(data.resolve(), target_is_directory=True)
    command = [sys.executable, "-m", "mmbind", "ablate", str(sweep), *overrides,
               "--output", str(work / "out"), "--seeds", seeds, "--no-progress", *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("MMBIND_RUN_STORE", None)
    start = time.perf_counter()
    with (work / "ablate.log").open("w") as log:
        subprocess.run(command, cwd=work, env=env, check=True, stdout=log,
                       stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="recipe overrides for every run")
    parser.add_argument("--sweep", default="ablations/alignment", help="sweep file or shipped name")
    parser.add_argument("--variants", default="united,separated_clip", help="comma-separated ('' = all)")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--reproducible", action="store_true")
    parser.add_argument("--data", type=Path, default=Path("data/study"), help="the study's dataset")
    args = parser.parse_args()
    from mmbind.recipe.paths import resolve_recipe_path

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if not (args.data / "manifest.json").is_file():
        subprocess.run([sys.executable, "-m", "mmbind", "data", "synth", str(args.data)], env=env, check=True)
    # the study's recipes ask for the reproducible mode themselves; without --reproducible, the default mode
    mode = ["--reproducible"] if args.reproducible else []
    if not args.reproducible:
        args.overrides.append("numerics.reproducible=false")
    with tempfile.TemporaryDirectory(prefix="mmbind-sweep-jobs-") as scratch:
        root = Path(scratch)
        sweep = subset_sweep(resolve_recipe_path(args.sweep), [v for v in args.variants.split(",") if v],
                             root / "sweep.yaml")
        one = run_side(root / "one_by_one", sweep, args.data, args.seeds, mode, args.overrides)
        print(f"one by one:    {one:8.1f} s", file=sys.stderr)
        par = run_side(root / f"jobs{args.jobs}", sweep, args.data, args.seeds,
                       [*mode, "--jobs", str(args.jobs)], args.overrides)
        print(f"--jobs {args.jobs}:      {par:8.1f} s", file=sys.stderr)
        a, b = digests(root / "one_by_one" / "out"), digests(root / f"jobs{args.jobs}" / "out")
    runs = len(a)
    print(json.dumps({"benchmark": "sweep_jobs", "sweep": args.sweep, "variants": args.variants,
                      "seeds": args.seeds, "runs": runs, "jobs": args.jobs,
                      "cores": len(os.sched_getaffinity(0)),
                      "reproducible": args.reproducible, "overrides": args.overrides,
                      "one_by_one_s": round(one, 1), "jobs_s": round(par, 1), "speedup": round(one / par, 2),
                      "identical_runs": sum(a[k] == b.get(k) for k in a)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
