"""The experiment trackers a recipe's ``report_to`` names (TensorBoard, W&B, MLflow): one `Tracker`
interface (`base.py`), one module per backend, and `Trackers` (`fanout.py`) feeding them all from the
one place that writes ``metrics.jsonl``. A backend's library is imported only when a recipe names it."""

from mmbind.train.trackers.base import Tracker
from mmbind.train.trackers.fanout import TRACKERS_FILE, Trackers

__all__ = ["TRACKERS_FILE", "Tracker", "Trackers"]
