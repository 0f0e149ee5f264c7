"""runner.py

What the sweep executor does to a run, behind a small interface so that tests can inject a fast fake:
generate the synthetic data, train a recipe (or resume it) in a run folder, evaluate a trained run.
`LocalRunner` does it for real, in this process, with `mmbind.synth`, `mmbind.train` and `mmbind.eval`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mmbind.ablate.schema import EvalSpec
from mmbind.recipe.schema import Recipe

TEMPLATE = "vicuna_v1"  # the conversation template mmbind's training uses, so evaluation asks alike


@dataclass
class EvalOutcome:
    """What one evaluation wrote."""

    sets: dict[str, Path]  # set name -> result file (RUN/eval/<set>.json)
    skipped: list[str] = field(default_factory=list)  # sets the model has no encoder for


class Runner(Protocol):
    """The three things a sweep needs done."""

    def synth(self, out: Path, size: str, seed: int, world: str = "default") -> None:
        """Generate the synthetic dataset into ``out``."""

    def train(self, recipe: Recipe, run_dir: Path, resume: bool) -> dict[str, Any]:
        """Train (or resume) ``recipe`` in ``run_dir``; returns the run summary (``status`` done or
        interrupted), as `mmbind.train.train` does."""

    def evaluate(self, run_dir: Path, spec: EvalSpec) -> EvalOutcome:
        """Evaluate the run's final model; result files go to ``RUN/eval/<set>.json``."""


class LocalRunner:
    """Runs everything in this process."""

    def __init__(self, console: Console | None = None, progress: bool = True) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.progress = progress  # live progress bars for training and evaluation

    def synth(self, out: Path, size: str, seed: int, world: str = "default") -> None:
        """`mmbind.synth.generate_dataset`."""
        from mmbind.synth import generate_dataset

        generate_dataset(out, seed=seed, size=size, world=world)

    def train(self, recipe: Recipe, run_dir: Path, resume: bool) -> dict[str, Any]:
        """`mmbind.train.train` (which restores the caller's Ctrl-C handler afterwards)."""
        from mmbind.train import train

        return train(recipe, run_dir, resume=resume, progress=self.progress)

    def evaluate(self, run_dir: Path, spec: EvalSpec) -> EvalOutcome:
        """As ``mmbind eval RUN [--set ...]`` does, without the tables."""
        from mmbind.eval.job import EvalSettings
        from mmbind.eval.prepare import prepare_eval

        names = None if spec.sets == "all" else list(spec.sets)
        settings = EvalSettings(spec.batch_size, spec.max_new_tokens, spec.limit)
        job = prepare_eval(run_dir, names, settings, template=TEMPLATE)
        columns = (TextColumn("  eval {task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True, disable=not self.progress) as bars:
            tasks = {name: bars.add_task(name, total=n) for name, n in job.prompt_counts().items()}
            results = job.run(lambda name, n: bars.advance(tasks[name], n))
        return EvalOutcome({name: Path(r["path"]) for name, r in results.items()},
                           [s.name for s in job.skipped])
