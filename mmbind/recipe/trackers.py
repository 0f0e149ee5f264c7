"""trackers.py

The experiment trackers a recipe may name in ``report_to`` (TensorBoard, Weights & Biases, MLflow) and the
check made when the recipe loads: an unknown name is a `RecipeError` with the closest names, and a known
tracker whose library is not installed is a `RecipeError` naming the pip extra that installs it, so that a
missing library stops the run before training, not after it. The trackers themselves are
`mmbind.train.trackers`.
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Sequence

from mmbind.errors import RecipeError

TRACKERS: dict[str, str] = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}
"""tracker name -> the module its client library installs (the pip extra has the tracker's name)"""


def unknown_tracker_message(name: str) -> str:
    """Why ``name`` is not a tracker, with the closest known names."""
    close = difflib.get_close_matches(name, list(TRACKERS), n=3, cutoff=0.5)
    hint = ("did you mean " + " or ".join(f"'{c}'" for c in close) + "?") if close else \
        f"known trackers: {', '.join(TRACKERS)}"
    return f"unknown tracker {name!r}; {hint}"


def check_trackers_installed(names: Sequence[str], source: str) -> None:
    """Each tracker of ``names`` has its library installed; else a `RecipeError` naming the extra."""
    for i, name in enumerate(names):
        if importlib.util.find_spec(TRACKERS[name]) is None:
            raise RecipeError(f"{source}: report_to.{i}: tracker {name!r} is not installed "
                              f"(pip install 'mmbind[{name}]')")
