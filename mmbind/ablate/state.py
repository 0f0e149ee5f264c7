"""state.py

Where one (variant, seed) run of a sweep stands, read from its folder, so a sweep can be rerun at any time:

- ``new``: no ``recipe.yaml`` yet -- train from scratch;
- ``resume``: trained partly (no ``summary.json`` with status done) -- continue with train's resume;
- ``evaluate``: trained, but the evaluation this sweep asks for is missing or was asked differently;
- ``done``: trained and evaluated -- skipped.

A run is evaluated once its ``ablate.json`` marker records the sweep's eval request and the result file of
every set. A folder trained from a different recipe than the variant now resolves to is an error (the
sweep changed; results would mix two experiments).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from mmbind.errors import SweepError
from mmbind.recipe.schema import Recipe
from mmbind.run_folder import RECIPE_FILE, run_finished

MARKER = "ablate.json"  # RUN/ablate.json: what was evaluated, with which settings, where the results are
STATUSES = ("new", "resume", "evaluate", "done")


def recipe_dump(recipe: Recipe) -> dict[str, Any]:
    """The recipe as a run folder stores it (YAML round trip, so tuples compare as lists)."""
    return yaml.safe_load(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Dotted path of the first place where ``a`` and ``b`` differ (None when equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            where = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                return where
            found = first_difference(a[key], b[key], where)
            if found:
                return found
        return None
    return None if a == b else (path or "<root>")


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when it is missing or unreadable (a run killed mid-write)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def evaluated(run_dir: Path, request: dict[str, Any]) -> bool:
    """Whether the run was evaluated as ``request`` asks and every result file is still there."""
    marker = read_json(run_dir / MARKER)
    if not marker or marker.get("eval") != request:
        return False
    return all((run_dir / p).is_file() for p in (marker.get("sets") or {}).values())


def run_status(run_dir: Path, recipe: Recipe, request: dict[str, Any], who: str) -> str:
    """One of `STATUSES`; `SweepError` when the folder holds a run of another recipe (``who`` names it)."""
    stored_file = run_dir / RECIPE_FILE
    if not stored_file.is_file():
        return "new"
    try:
        stored = yaml.safe_load(stored_file.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        stored = None
    difference = first_difference(stored, recipe_dump(recipe))
    if difference is not None:
        raise SweepError(
            f"{run_dir}: holds a run of another recipe than {who} resolves to now (first difference: "
            f"{difference}); delete that folder to retrain it, or undo the change to the sweep"
        )
    if not run_finished(run_dir):
        return "resume"
    return "done" if evaluated(run_dir, request) else "evaluate"


def write_marker(run_dir: Path, request: dict[str, Any], sets: dict[str, Path], skipped: list[str],
                 numerics: dict[str, Any] | None = None) -> Path:
    """Record a finished evaluation: the request, each set's result file (stored relative to the run, so
    the sweep folder can move), the sets skipped and the numerics fingerprint it ran under."""
    path = run_dir / MARKER
    files = {name: os.path.relpath(file, run_dir) for name, file in sets.items()}
    payload = {"eval": request, "sets": files, "skipped": skipped, "numerics": numerics}
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def result_files(run_dir: Path) -> dict[str, Path]:
    """Set name -> result file of an evaluated run ({} when it has not been evaluated)."""
    marker = read_json(run_dir / MARKER) or {}
    return {name: run_dir / p for name, p in (marker.get("sets") or {}).items()}
