"""base.py

The one interface of an experiment tracker (`Tracker`): the run's config, its metrics at a step, an image
(the loss chart) and closing. One module per backend implements it (`tensorboard_tracker.py`,
`wandb_tracker.py`, `mlflow_tracker.py`); `fanout.py` opens the recipe's trackers and feeds them all.
A tracker's ``state`` (its run id and where the run lives) is kept in ``RUN/trackers.json`` and given back
when the run resumes, so that a resumed run continues the same tracker run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any


class Tracker(ABC):
    """One experiment tracker's run, opened on rank 0 only."""

    name: str = ""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """What reopens this tracker run on resume (kept in ``RUN/trackers.json``), e.g. its run id."""

    @abstractmethod
    def log_config(self, config: dict[str, Any]) -> None:
        """Record the resolved recipe as the run's config."""

    @abstractmethod
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Record numeric metrics at ``step`` (counted over all stages)."""

    @abstractmethod
    def log_image(self, path: Path, name: str, step: int) -> None:
        """Record the PNG image at ``path`` under ``name``."""

    @abstractmethod
    def close(self, status: str) -> None:
        """End the tracker run; ``status``: ``done``, ``interrupted`` or ``failed``."""
