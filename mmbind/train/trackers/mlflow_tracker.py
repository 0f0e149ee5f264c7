"""mlflow_tracker.py

MLflow through ``MlflowClient`` (``pip install 'mmbind[mlflow]'``): the tracking server or store of
``MLFLOW_TRACKING_URI``, else a local store under ``RUN/mlruns/`` (SQLite ``mlflow.db``, artifacts in
``artifacts/``: MLflow's plain-file store is in maintenance mode), experiment ``MLFLOW_EXPERIMENT_NAME``
(default ``mmbind``). The resolved recipe is the run's params (flattened to dotted keys) and its
``recipe.yaml`` artifact; metrics are logged by step, the loss chart as the artifact ``loss.png``. The run
id (and a tracking URI other than the run folder's own) is kept so that a resumed run reopens the same
MLflow run; steps it already holds (logged by a killed run after its last checkpoint) are not logged
twice.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from mmbind.train.trackers.base import Tracker

FOLDER = "mlruns"
MAX_PARAM = 6000  # MLflow's limit on a param value's length
_BAD_KEY = re.compile(r"[^\w\-. /]")
_STATUS = {"done": "FINISHED", "interrupted": "KILLED", "failed": "FAILED"}


def flatten(config: Any, prefix: str = "") -> dict[str, str]:
    """Dotted key -> value as text (lists as JSON), for MLflow params."""
    if isinstance(config, dict) and config:
        out: dict[str, str] = {}
        for key, value in config.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    text = config if isinstance(config, str) else json.dumps(config)
    return {_BAD_KEY.sub("_", prefix): text[:MAX_PARAM]}


class MlflowTracker(Tracker):
    """One MLflow run, reopened by its id."""

    name = "mlflow"

    def __init__(self, run_dir: Path, saved: dict[str, Any] | None, run_name: str | None) -> None:
        for noisy in ("mlflow.store.db.utils", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        from mlflow.tracking import MlflowClient

        saved = saved or {}
        local = run_dir.resolve() / FOLDER
        default = f"sqlite:///{local}/mlflow.db"  # kept as "the run folder's own" so that the folder may move
        uri = saved.get("tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI") or default
        if saved and not saved.get("tracking_uri"):
            uri = default
        self.local = uri == default
        if self.local:
            local.mkdir(parents=True, exist_ok=True)
        self.client, self.uri, self.seen_through = MlflowClient(tracking_uri=uri), uri, 0
        if saved.get("run_id"):
            self.run_id = saved["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
            history = self.client.get_metric_history(self.run_id, "lr")
            self.seen_through = max((m.step for m in history), default=0)
        else:
            name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "mmbind")
            experiment = self.client.get_experiment_by_name(name)
            if experiment is not None:
                experiment_id = experiment.experiment_id
            else:
                where = (local / "artifacts").as_uri() if self.local else None
                experiment_id = self.client.create_experiment(name, artifact_location=where)
            self.run_id = self.client.create_run(experiment_id, run_name=run_name).info.run_id

    def state(self) -> dict[str, Any]:
        return {"run_id": self.run_id, **({} if self.local else {"tracking_uri": self.uri})}

    def log_config(self, config: dict[str, Any]) -> None:
        import yaml
        from mlflow.entities import Param

        held = self.client.get_run(self.run_id).data.params
        params = [Param(k, v) for k, v in flatten(config).items() if k not in held]  # a param is set once
        for first in range(0, len(params), 100):
            self.client.log_batch(self.run_id, params=params[first:first + 100])
        self.client.log_text(self.run_id, yaml.safe_dump(config, sort_keys=False), "recipe.yaml")

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        if step <= self.seen_through:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in metrics.items()])

    def log_image(self, path: Path, name: str, step: int) -> None:
        self.client.log_artifact(self.run_id, str(path))

    def close(self, status: str) -> None:
        self.client.set_terminated(self.run_id, status=_STATUS.get(status, "FAILED"))
