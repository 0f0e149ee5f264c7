"""wandb_tracker.py

Weights & Biases through its client (``pip install 'mmbind[wandb]'``): the run's files under ``RUN/wandb/``,
online or offline as W&B decides (``WANDB_MODE``, ``wandb login``), project ``WANDB_PROJECT`` (default
``mmbind``). The run id is kept so that a resumed run continues the same W&B run (``resume="allow"``);
steps a killed run logged after its last checkpoint are not logged twice (W&B drops steps it has seen).
W&B's console capture is off, so the progress display is unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mmbind.train.trackers.base import Tracker


class WandbTracker(Tracker):
    """One W&B run, resumed by its id."""

    name = "wandb"

    def __init__(self, run_dir: Path, saved: dict[str, Any] | None, run_name: str | None) -> None:
        import wandb

        self._wandb = wandb
        run_id = (saved or {}).get("run_id")  # None: W&B makes a new one
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "mmbind"), dir=str(run_dir), id=run_id, resume="allow",
            name=run_name, reinit="create_new",
            settings=wandb.Settings(console="off", silent=True, x_disable_stats=True, disable_git=True,
                                    save_code=False, x_save_requirements=False),
        )
        self.run_id: str = self.run.id

    def state(self) -> dict[str, Any]:
        return {"run_id": self.run_id}

    def log_config(self, config: dict[str, Any]) -> None:
        self.run.config.update(config, allow_val_change=True)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(metrics, step=step)

    def log_image(self, path: Path, name: str, step: int) -> None:
        self.run.log({name: self._wandb.Image(str(path))}, step=step)

    def close(self, status: str) -> None:
        self.run.finish(exit_code=0 if status == "done" else 1)
