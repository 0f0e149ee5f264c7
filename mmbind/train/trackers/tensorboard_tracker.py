"""tensorboard_tracker.py

TensorBoard: event files under ``RUN/tensorboard/`` written with torch's ``SummaryWriter`` (which needs the
``tensorboard`` package: ``pip install 'mmbind[tensorboard]'``). The config is a text summary (the recipe
as YAML), metrics are scalars, the loss chart an image. A resumed run appends to the same folder; steps a
killed run logged after its last checkpoint are logged again, and TensorBoard keeps the later values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmbind.train.trackers.base import Tracker

FOLDER = "tensorboard"


class TensorBoardTracker(Tracker):
    """Writes ``RUN/tensorboard/events.out.tfevents.*``."""

    name = "tensorboard"

    def __init__(self, run_dir: Path, saved: dict[str, Any] | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = run_dir / FOLDER
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def state(self) -> dict[str, Any]:
        return {"log_dir": FOLDER}

    def log_config(self, config: dict[str, Any]) -> None:
        import yaml

        text = yaml.safe_dump(config, sort_keys=False)
        self.writer.add_text("recipe", "```yaml\n" + text + "```")  # markdown: kept verbatim
        self.writer.flush()

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()

    def log_image(self, path: Path, name: str, step: int) -> None:
        import numpy as np
        from PIL import Image

        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        self.writer.add_image(name, pixels, step, dataformats="HWC")
        self.writer.flush()

    def close(self, status: str) -> None:
        self.writer.close()
