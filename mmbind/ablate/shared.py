"""shared.py

Runs shared across sweeps: a (variant, seed) whose resolved recipe -- seed included -- is identical to a
run some sweep already trained is not retrained. A store folder (``MMBIND_RUN_STORE``, else
``.shared-runs/`` next to the sweep folders, i.e. ``runs/ablations/.shared-runs``) maps the SHA-256 of
the resolved recipe to the finished run's folder. The new run's folder gets a copy of that run's
``recipe.yaml``, ``summary.json``, ``metrics.jsonl`` and ``numerics.json`` and a link to its ``stages/``
(the weights are not copied); it is then evaluated in its own folder, with this sweep's eval settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

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


def register(store: Path, recipe: Recipe, run_dir: Path) -> None:
    """Record a finished run (its own training, never a link to another) as reusable."""
    if not run_finished(run_dir) or (run_dir / "stages").is_symlink():
        return
    store.mkdir(parents=True, exist_ok=True)
    entry = store / f"{recipe_key(recipe)}.json"
    if not entry.is_file():
        entry.write_text(json.dumps({"run_dir": str(run_dir.resolve())}) + "\n", encoding="utf-8")


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
