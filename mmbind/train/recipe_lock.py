"""recipe_lock.py

What a resumed run may change in its recipe. ``RUN/recipe.lock.json`` holds the resolved recipe the run
started with (and, after a resume that accepted changes, the recipe it continued with). On ``--resume``
the recipe given (``RUN/recipe.yaml`` as the user may have edited it, or a sweep's recipe) is compared
with it field by field: a change to a field that alters results is refused with a `CheckpointError` naming
each field path (``stages.finetune.lr: 2e-05 -> 3e-05``) unless ``allow`` names that path or a parent of it
(``--allow-recipe-change stages.finetune.lr``). Fields that do not alter the trained weights (`FREE_FIELDS`:
logging and its trackers, checkpoint interval and count, data-loader workers, the cache folder, the run's
name) may change. A change that is accepted is applied to the remaining steps (the optimizer's settings
are the recipe's after a checkpoint restore: `recipe_settings.py`), so a change to a stage that has already
finished (which resuming skips) is refused even when named: it could not be applied.
Runs started before the lock existed are compared with their ``recipe.yaml``.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mmbind.errors import CheckpointError
from mmbind.recipe.schema import Recipe
from mmbind.run_folder import stage_dir
from mmbind.train.storage import write_text_atomic

LOCK_FILE = "recipe.lock.json"
FREE_FIELDS = (
    "name", "report_to", "data.num_workers", "data.feature_cache.dir",
    "stages.*.save_every_steps", "stages.*.keep_last", "stages.*.log_every_steps",
)
_ABSENT = object()


def recipe_data(recipe: Recipe) -> dict[str, Any]:
    """The recipe as plain JSON data (what the lock stores)."""
    return json.loads(json.dumps(recipe.model_dump(mode="json")))


def write_lock(run_dir: Path, recipe: Recipe) -> None:
    """Store ``recipe`` as the run's reference for later resumes."""
    lock = {"version": 1, "recipe": recipe_data(recipe)}
    write_text_atomic(run_dir / LOCK_FILE, json.dumps(lock, indent=1) + "\n")


def read_lock(run_dir: Path) -> dict[str, Any] | None:
    """The stored reference recipe (None: a run from before the lock)."""
    path = run_dir / LOCK_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["recipe"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: unreadable ({type(exc).__name__}); restore it or delete it to "
                              "compare with recipe.yaml instead") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: 'recipe' is not a mapping")
    return data


def recipe_changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field path, old, new) of every leaf that differs; dictionaries are walked, lists compared whole;
    a different order of stages is the change ``stages``."""
    out: list[tuple[str, Any, Any]] = []
    _diff(old, new, "", out)
    old_stages, new_stages = list(old.get("stages") or {}), list(new.get("stages") or {})
    if old_stages != new_stages and sorted(old_stages) == sorted(new_stages):
        out.append(("stages", old_stages, new_stages))
    return out


def _diff(old: Any, new: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            _diff(old.get(key, _ABSENT), new.get(key, _ABSENT), f"{path}.{key}" if path else str(key), out)
    elif old != new or type(old) is not type(new) and not (_number(old) and _number(new)):
        out.append((path, old, new))


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _free(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in FREE_FIELDS)


def _named(path: str, allow: Iterable[str]) -> bool:
    return any(path == a or path.startswith(a + ".") for a in allow)


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    return value if isinstance(value, str) else json.dumps(value)


def check_recipe_change(run_dir: Path, recipe: Recipe, allow: Iterable[str] = ()) -> list[str]:
    """Refuse a change of ``recipe`` against the run's reference that alters results and is not in
    ``allow``; returns the accepted result-altering changes (``path: old -> new``)."""
    from mmbind.recipe import recipe_from_dict
    from mmbind.recipe.loader import read_yaml_mapping

    allow = [a.strip() for a in allow if a.strip()]
    old = read_lock(run_dir)
    if old is None:
        source = run_dir / "recipe.yaml"
        old = recipe_data(recipe_from_dict(read_yaml_mapping(source, "run recipe", CheckpointError),
                                           source=str(source)))
    changes = [(p, a, b) for p, a, b in recipe_changes(old, recipe_data(recipe)) if not _free(p)]
    refused = [c for c in changes if not _named(c[0], allow)]
    if refused:
        listed = "; ".join(f"{p}: {_show(a)} -> {_show(b)}" for p, a, b in refused)
        names = ",".join(p for p, _, _ in refused)
        raise CheckpointError(
            f"{run_dir}: the recipe differs from the one this run was trained with ({listed}); "
            "resuming would "
            f"mix two settings. Restore {run_dir / 'recipe.yaml'}, or accept the change with "
            f"--allow-recipe-change {names}"
        )
    done = [(p, a, b) for p, a, b in changes if _finished_stage(run_dir, p)]
    if done:
        listed = "; ".join(f"{p}: {_show(a)} -> {_show(b)}" for p, a, b in done)
        stages = ", ".join(sorted({p.split(".")[1] for p, _, _ in done}))
        raise CheckpointError(
            f"{run_dir}: the recipe changes stage(s) that have already finished ({listed}); resuming skips "
            f"finished stages ({stages}), so the change cannot be applied. Restore "
            f"{run_dir / 'recipe.yaml'}, or train a new run (init_from: a finished stage's folder)"
        )
    return [f"{p}: {_show(a)} -> {_show(b)}" for p, a, b in changes]


def _finished_stage(run_dir: Path, path: str) -> bool:
    """Whether the field ``path`` belongs to a stage whose output the run already holds (resuming skips
    it, so a change to it would be accepted and never applied)."""
    parts = path.split(".")
    return len(parts) > 2 and parts[0] == "stages" and stage_dir(run_dir, parts[1]).is_dir()
