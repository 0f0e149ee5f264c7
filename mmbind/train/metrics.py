"""metrics.py

The run's metrics: one JSON object per logged step in ``metrics.jsonl`` (trimmed back to the checkpoint on
resume, so replayed steps are not duplicated) and a loss-curve PNG drawn with matplotlib's Agg backend (with
the reward margin and accuracy of preference stages in a second panel). A
half-written last line (a crash mid-append) is skipped when reading (see `jsonl_log.py`). When the recipe
names trackers (``report_to``), every record written and every chart drawn also goes to each of them
(`mmbind.train.trackers.Trackers`), at the step counted over all stages as on the chart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmbind.train.jsonl_log import read_jsonl
from mmbind.train.storage import write_text_atomic

if TYPE_CHECKING:
    from mmbind.train.trackers import Trackers

METRICS = "metrics.jsonl"
PLOT = "loss.png"
REWARD_MARGIN, REWARD_ACCURACY = "rewards/margins", "rewards/accuracies"  # drawn below the loss when logged


class MetricsLog:
    """Appends step records to ``RUN/metrics.jsonl``."""

    def __init__(self, run_dir: Path, enabled: bool = True, trackers: Trackers | None = None) -> None:
        self.path = run_dir / METRICS
        self.enabled = enabled
        self.trackers = trackers
        self._offsets: dict[int, int] = {}  # stage index -> steps of the stages before it (as on the chart)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (and send it to the trackers)."""
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            if self.trackers is not None:
                self.trackers.log_record(record, self.offset(record.get("stage_index", 0)) + record["step"])

    def offset(self, stage_index: int) -> int:
        """Steps before ``stage_index``'s first: the last logged step of each earlier stage, summed."""
        if stage_index not in self._offsets:
            last: dict[int, int] = {}
            for r in self.records():
                index = r.get("stage_index", 0)
                if index < stage_index:
                    last[index] = max(last.get(index, 0), r.get("step", 0))
            self._offsets[stage_index] = sum(last.values())
        return self._offsets[stage_index]

    def records(self) -> list[dict[str, Any]]:
        """All records so far."""
        return read_jsonl(self.path)

    def trim(self, stage_index: int, step: int) -> None:
        """Drop records after (stage_index, step): steps a resumed run will replay."""
        if not self.enabled or not self.path.is_file():
            return
        kept = [
            r for r in self.records() if (r.get("stage_index", 0), r.get("step", 0)) <= (stage_index, step)
        ]
        write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in kept))

    def plot(self) -> Path | None:
        """Draw ``loss.png`` (one line per stage, x = step counted over all stages)."""
        records = [r for r in self.records() if "loss" in r]
        if not self.enabled or not records:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rewards = any(REWARD_MARGIN in r for r in records)
        fig, axes = plt.subplots(2 if rewards else 1, 1, figsize=(7, 7 if rewards else 4), squeeze=False,
                                 sharex=True)
        ax = axes[0][0]
        offset, stages = 0, {}
        for r in records:
            stages.setdefault((r["stage_index"], r["stage"]), []).append(r)
        for (_, name), rows in sorted(stages.items()):
            steps = [offset + r["step"] for r in rows]
            ax.plot(steps, [r["loss"] for r in rows], label=name)
            if rewards and any(REWARD_MARGIN in r for r in rows):  # preference stages: TRL's reward metrics
                kept = [(s, r) for s, r in zip(steps, rows) if REWARD_MARGIN in r]
                axes[1][0].plot([s for s, _ in kept], [r[REWARD_MARGIN] for _, r in kept],
                                label=f"{name} {REWARD_MARGIN}")
                axes[1][0].plot([s for s, _ in kept], [r[REWARD_ACCURACY] for _, r in kept], linestyle="--",
                                label=f"{name} {REWARD_ACCURACY}")
            offset += max(r["step"] for r in rows)
        for axis in (row[0] for row in axes):
            axis.legend()
            axis.grid(alpha=0.3)
        axes[-1][0].set_xlabel("optimizer step")
        ax.set_ylabel("loss")
        fig.tight_layout()
        out = self.path.parent / PLOT
        fig.savefig(out, dpi=100)
        plt.close(fig)
        if self.trackers is not None:
            self.trackers.log_image(out, "loss_chart")
        return out
