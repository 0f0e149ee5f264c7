"""progress.py

The live training display (rank 0 only): stage, step/total, loss, learning rate, tokens per second, the
stage kind's own metrics (``shown_metrics``) and ETA, drawn with rich. Disabled, it does nothing.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class ProgressDisplay:
    """A rich progress bar per stage."""

    def __init__(self, enabled: bool, console: Console | None = None) -> None:
        self.enabled = enabled
        self.progress: Progress | None = None
        self.task: Any = None
        self.console = console or Console(stderr=True)

    def start(self, stage: str, total: int, done: int) -> None:
        """Begin a stage's bar at ``done`` of ``total`` steps."""
        if not self.enabled:
            return
        self.progress = Progress(
            TextColumn("[bold]{task.fields[stage]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("lr {task.fields[lr]}"),
            TextColumn("{task.fields[tps]} tok/s"),
            TextColumn("{task.fields[extra]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=total, completed=done, stage=stage, loss="-",
                                           lr="-", tps="-", extra="")

    def update(self, step: int, loss: float, lr: float, tokens_per_s: float,
               shown: dict[str, float] | None = None) -> None:
        """Show step ``step`` done (``shown``: the stage kind's own metrics, e.g. dpo's reward accuracy)."""
        if self.progress is not None:
            extra = " ".join(f"{name} {value:.3f}" for name, value in (shown or {}).items())
            self.progress.update(
                self.task, completed=step, loss=f"{loss:.4f}", lr=f"{lr:.2e}", tps=f"{tokens_per_s:,.0f}",
                extra=extra,
            )

    def note(self, message: str) -> None:
        """Print a line above the bar (or on stderr when disabled)."""
        self.console.print(message, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        """Remove the bar."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
