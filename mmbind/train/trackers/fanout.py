"""fanout.py

The recipe's trackers together (`Trackers`): opened on rank 0 when a run starts or resumes (each with what
``RUN/trackers.json`` kept of it, so a resumed run continues the same tracker runs), fed by `MetricsLog`
(every record of ``metrics.jsonl``, every loss chart) and closed with the run's status. A record's numeric
fields become metrics (``step`` is the x axis, counted over all stages as on the loss chart; a ``None`` loss
is left out). Only the trackers named are imported. A tracker that cannot open its run (W&B online and
not logged in, an MLflow server down) stops the run before training with a `TrackerError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmbind.errors import MmbindError, TrackerError
from mmbind.train.storage import write_text_atomic
from mmbind.train.trackers.base import Tracker

TRACKERS_FILE = "trackers.json"


def _open_one(name: str, run_dir: Path, saved: dict[str, Any] | None, run_name: str | None) -> Tracker:
    if name == "tensorboard":
        from mmbind.train.trackers.tensorboard_tracker import TensorBoardTracker

        return TensorBoardTracker(run_dir, saved)
    if name == "wandb":
        from mmbind.train.trackers.wandb_tracker import WandbTracker

        return WandbTracker(run_dir, saved, run_name)
    if name == "mlflow":
        from mmbind.train.trackers.mlflow_tracker import MlflowTracker

        return MlflowTracker(run_dir, saved, run_name)
    raise ValueError(f"unknown tracker {name!r}")  # the recipe's schema has refused it already


def metric_values(record: dict[str, Any]) -> dict[str, float]:
    """The numeric fields of a ``metrics.jsonl`` record, but its per-stage ``step``."""
    return {k: float(v) for k, v in record.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)}


class Trackers:
    """The run's open trackers; every call goes to each of them."""

    def __init__(self, trackers: Sequence[Tracker]) -> None:
        self.trackers = list(trackers)
        self.last_step = 0

    @classmethod
    def open(cls, names: Sequence[str], run_dir: Path, config: dict[str, Any], run_name: str | None,
             resume: bool) -> Trackers:
        """Open (or, on resume, reopen) the trackers ``names``, record their state in ``RUN/trackers.json``
        and log ``config`` (the resolved recipe) to each."""
        path = run_dir / TRACKERS_FILE
        kept: dict[str, Any] = {}
        if resume and path.is_file():
            kept = json.loads(path.read_text(encoding="utf-8"))
        opened: list[Tracker] = []
        try:
            for name in names:
                try:
                    opened.append(_open_one(name, run_dir, kept.get(name), run_name))
                except (MmbindError, KeyboardInterrupt):
                    raise
                except Exception as exc:  # the library's own error: not logged in, no server, bad URI
                    raise TrackerError(f"report_to: {name} could not open its run "
                                       f"({type(exc).__name__}: {exc})") from exc
        except BaseException:
            for tracker in opened:
                tracker.close("failed")
            raise
        kept.update({t.name: t.state() for t in opened})
        write_text_atomic(path, json.dumps(kept, indent=1) + "\n")
        trackers = cls(opened)
        for tracker in opened:
            tracker.log_config(config)
        return trackers

    def log_record(self, record: dict[str, Any], step: int) -> None:
        """Send one ``metrics.jsonl`` record at ``step`` (counted over all stages)."""
        metrics = metric_values(record)
        self.last_step = max(self.last_step, step)
        for tracker in self.trackers:
            tracker.log_metrics(metrics, step)

    def log_image(self, path: Path, name: str) -> None:
        """Send an image (the loss chart) at the last step logged."""
        for tracker in self.trackers:
            tracker.log_image(path, name, self.last_step)

    def close(self, status: str) -> None:
        """End every tracker run (each is closed even when another fails to)."""
        errors: list[BaseException] = []
        for tracker in self.trackers:
            try:
                tracker.close(status)
            except Exception as exc:  # noqa: BLE001 - closing the others matters more
                errors.append(exc)
        self.trackers = []
        if errors:
            raise errors[0]
