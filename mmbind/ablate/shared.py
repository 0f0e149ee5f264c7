"""shared.py

Runs shared across sweeps: a (variant, seed) whose resolved recipe -- seed included -- is identical to a
run some sweep already trained is not retrained. A store folder (``MMBIND_RUN_STORE``, else
``.shared-runs/`` next to the sweep folders, i.e. ``runs/ablations/.shared-runs``) maps the SHA-256 of
the resolved recipe to the finished run's folder. The new run's folder gets a copy of that run's
``recipe.yaml``, ``summary.json``, ``metrics.jsonl`` and ``numerics.json`` and a link to its ``stages/``
(the weights are not copied); it is then evaluated in its own folder, with this sweep's eval settings.

Stages are shared too. A run that is new to the store may still begin with the same stages as a finished
run: each stage starts from the previous stage's output, seeded by its own ``seed``, so what stage k
produces depends only on the recipe's model, data settings, numerics and first k stages (with the datasets
they name). The store keeps a key per prefix of every finished run (`prefix_key`); a new run adopts the
longest prefix found (`find_prefix`, `adopt_prefix`): its ``stages/<name>`` link to that run's, its logs
get their records, and it is trained as a resumed run, which skips finished stages. The run's name and the
stages and datasets after the prefix do not enter the key.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import yaml

from mmbind.ablate.state import recipe_dump
from mmbind.numerics import NUMERICS_FILE
from mmbind.recipe.schema import Recipe
from mmbind.run_folder import RECIPE_FILE, SUMMARY_FILE, run_finished

STORE_ENV = "MMBIND_RUN_STORE"
COPIED = (RECIPE_FILE, SUMMARY_FILE, "metrics.jsonl", NUMERICS_FILE)


def store_dir(sweep_output: Path) -> Path:
    """The run store shared by the sweeps beside ``sweep_output``."""
    explicit = os.environ.get(STORE_ENV)
    return Path(explicit) if explicit else sweep_output.resolve().parent / ".shared-runs"


def recipe_key(recipe: Recipe) -> str:
    """SHA-256 of the resolved recipe (seeds included)."""
    blob = json.dumps(recipe_dump(recipe), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def prefix_key(recipe: Recipe, stages: int) -> str:
    """SHA-256 of what the first ``stages`` stages of ``recipe`` compute from: the resolved recipe without
    its name, with only those stages and the datasets they read."""
    data = recipe_dump(recipe)
    data.pop("name", None)
    kept = dict(list((data.get("stages") or {}).items())[:stages])
    data["stages"] = kept
    if data.get("data"):
        used = {spec.get("dataset") or name for name, spec in kept.items()}
        data["data"]["datasets"] = {k: v for k, v in data["data"]["datasets"].items() if k in used}
    blob = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"stages:{stages}:{blob}".encode()).hexdigest()


def register(store: Path, recipe: Recipe, run_dir: Path) -> None:
    """Record a finished run (its own training, never a link to another) as reusable, whole and by the
    prefixes of its stages."""
    if not run_finished(run_dir) or (run_dir / "stages").is_symlink():
        return
    store.mkdir(parents=True, exist_ok=True)
    entries = {recipe_key(recipe): {"run_dir": str(run_dir.resolve())}}
    names = list(recipe.stages or {})
    for count in range(1, len(names) + 1):
        entries[prefix_key(recipe, count)] = {"run_dir": str(run_dir.resolve()), "stages": names[:count]}
    for key, payload in entries.items():
        entry = store / f"{key}.json"
        if not entry.is_file():
            entry.write_text(json.dumps(payload) + "\n", encoding="utf-8")


def find_shared(store: Path, recipe: Recipe, run_dir: Path) -> Path | None:
    """A finished run of the same recipe elsewhere, if one is recorded and still there."""
    entry = store / f"{recipe_key(recipe)}.json"
    try:
        source = Path(json.loads(entry.read_text(encoding="utf-8"))["run_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if source == run_dir.resolve() or not run_finished(source) or not (source / "stages").is_dir():
        return None
    return source


def adopt(source: Path, run_dir: Path) -> None:
    """Make ``run_dir`` a trained run sharing ``source``'s weights."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        if (source / name).is_file():
            shutil.copy2(source / name, run_dir / name)
    link = run_dir / "stages"
    if not link.exists():
        link.symlink_to(source / "stages", target_is_directory=True)


def find_prefix(store: Path, recipe: Recipe, run_dir: Path) -> tuple[Path, list[str]] | None:
    """The longest run of finished stages (not all of them) that a run in the store already trained with
    the same settings: its folder and the stages' names."""
    names = list(recipe.stages or {})
    for count in range(len(names) - 1, 0, -1):
        try:
            payload = json.loads((store / f"{prefix_key(recipe, count)}.json").read_text(encoding="utf-8"))
            source, stages = Path(payload["run_dir"]), list(payload["stages"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if stages == names[:count] and source != run_dir.resolve() and all(
                (source / "stages" / name).is_dir() for name in stages):
            return source, stages
    return None


def adopt_prefix(source: Path, stages: list[str], recipe: Recipe, run_dir: Path) -> None:
    """Make ``run_dir`` a run of ``recipe`` whose first ``stages`` are ``source``'s (linked, with their
    records in the logs), ready to be resumed."""
    from mmbind.train.recipe_lock import write_lock

    (run_dir / "stages").mkdir(parents=True, exist_ok=True)
    for name in stages:
        link = run_dir / "stages" / name
        if not link.exists():
            link.symlink_to((source / "stages" / name).resolve(), target_is_directory=True)
    for log in ("metrics.jsonl", "bad_samples.jsonl"):
        lines = _records_of(source / log, stages)
        if lines:
            (run_dir / log).write_text("".join(lines), encoding="utf-8")
    if (source / NUMERICS_FILE).is_file():
        shutil.copy2(source / NUMERICS_FILE, run_dir / NUMERICS_FILE)
    write_lock(run_dir, recipe)
    dumped = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
    (run_dir / RECIPE_FILE).write_text(dumped, encoding="utf-8")


def share_training(store: Path, recipe: Recipe, run_dir: Path) -> tuple[str, str] | None:
    """For a new run: adopt a finished run of the same recipe (returns ``("evaluate", message)``), else the
    longest prefix of stages some run trained (``("resume", message)``); None when nothing is shared."""
    source = find_shared(store, recipe, run_dir)
    if source is not None:
        adopt(source, run_dir)
        return "evaluate", f"same recipe and seed as {source}: its training is shared, not redone"
    prefix = find_prefix(store, recipe, run_dir)
    if prefix is not None:
        adopt_prefix(prefix[0], prefix[1], recipe, run_dir)
        return "resume", f"stages {', '.join(prefix[1])} as {prefix[0]} trained them: shared, not redone"
    return None


def _records_of(path: Path, stages: list[str]) -> list[str]:
    """The lines of a JSON-lines log whose record belongs to one of ``stages``."""
    if not path.is_file():
        return []
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("stage") in stages:
            kept.append(line if line.endswith("\n") else line + "\n")
    return kept
