"""run_folder.py

The layout of a run folder, as `mmbind train` writes it and every other command reads it (eval, chat,
serve, infer, ablate and the demo find a run through this module, never through the trainer):

    RUN/recipe.yaml          the resolved recipe (`read_run_recipe`)
    RUN/stages/<name>/       each finished stage's output model (`stage_dir`)
    RUN/summary.json         written when training returns; ``"status": "done"`` once every stage finished
                             (`run_finished`)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmbind.errors import CheckpointError
from mmbind.recipe.loader import read_yaml_mapping

RECIPE_FILE = "recipe.yaml"  # the resolved recipe of a run directory
SUMMARY_FILE = "summary.json"  # written when train() returns: stage results and "status"
STAGES = "stages"  # the folder of the stages' output models


def stage_dir(run_dir: Path, stage: str) -> Path:
    """Where a stage's output model lives."""
    return run_dir / STAGES / stage


def run_finished(run_dir: Path) -> bool:
    """Whether every stage of the run in ``run_dir`` has finished (a missing or half-written summary: no)."""
    try:
        summary = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and summary.get("status") == "done"


def read_run_recipe(run_dir: Path) -> dict[str, Any]:
    """The resolved recipe stored in a run directory."""
    path = run_dir / RECIPE_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir}: not an mmbind run directory ({RECIPE_FILE} is missing)")
    return read_yaml_mapping(path, "run recipe", CheckpointError)
