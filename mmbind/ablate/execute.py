"""execute.py

`SweepExecutor`: prepare the data once, then for every (variant, seed) of a `SweepPlan` in order -- skip it
when done, train it (or resume it), evaluate it -- with one progress line per step (or, with ``jobs``,
several runs at once, each in its own process: `parallel.py`). A run interrupted by
Ctrl-C (training saves a checkpoint) stops the sweep; running the sweep again resumes it there. A run
whose resolved recipe and seed another sweep already trained shares that training, and a run that begins
with stages another run trained shares those (`shared.py`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from mmbind.ablate.plan import RunPlan, SweepPlan, check_data
from mmbind.ablate.runner import LocalRunner, Runner
from mmbind.ablate.shared import register, share_training, store_dir
from mmbind.ablate.state import write_marker
from mmbind.dataset_manifest import MANIFEST
from mmbind.numerics import fingerprint


@dataclass
class SweepOutcome:
    """What one execution did."""

    status: str = "done"  # done, or interrupted (a checkpoint was saved; rerun to resume)
    trained: list[str] = field(default_factory=list)  # runs trained from scratch
    resumed: list[str] = field(default_factory=list)  # runs resumed from their folder
    evaluated: list[str] = field(default_factory=list)  # runs evaluated
    skipped: list[str] = field(default_factory=list)  # runs already done
    shared: list[str] = field(default_factory=list)  # runs whose training another sweep had done
    shared_stages: list[str] = field(default_factory=list)  # runs that began with stages another run trained
    checkpoint: str | None = None  # where an interrupted run stopped


class SweepExecutor:
    """Runs a plan with a `Runner` (the real one by default)."""

    def __init__(self, runner: Runner | None = None, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.runner = runner or LocalRunner(self.console)

    def say(self, message: str) -> None:
        """One progress line."""
        self.console.print(message, highlight=False, soft_wrap=True)

    def prepare_data(self, plan: SweepPlan) -> None:
        """Generate the sweep's synthetic dataset unless its folder already holds one."""
        synth = plan.sweep.data.synth
        if synth is None:
            return
        out = Path(synth.out)
        if (out / MANIFEST).is_file():
            self.say(f"[dim]data: {out} is ready")
            return
        self.say(f"[bold]data:[/] generating {out} (size {synth.size}, seed {synth.seed})")
        start = time.perf_counter()
        self.runner.synth(out, synth.size, synth.seed, synth.world)
        self.say(f"[dim]data: done in {time.perf_counter() - start:.1f} s")

    def execute(self, plan: SweepPlan, jobs: int | None = None) -> SweepOutcome:
        """Prepare the data, check it, then run what is not done yet: one by one in this process, or with
        ``jobs`` each run in its own process, up to ``jobs`` at once (`parallel.py`)."""
        self.prepare_data(plan)
        check_data(plan)
        if jobs is not None:
            from mmbind.ablate.parallel import ParallelSweep

            outcome = SweepOutcome()
            ParallelSweep(jobs, self.say).run(plan, outcome)
            return outcome
        outcome, total, durations = SweepOutcome(), len(plan.runs), []
        store = store_dir(plan.output)
        for number, run in enumerate(plan.runs, 1):
            head = f"[bold][{number}/{total}] {run.name}[/]"
            shared = share_training(store, run.recipe, run.run_dir) if run.status == "new" else None
            if shared is not None:
                run.status = shared[0]
                (outcome.shared if run.status == "evaluate" else outcome.shared_stages).append(run.name)
                self.say(f"{head} [dim]{shared[1]}")
            if run.status == "done":
                register(store, run.recipe, run.run_dir)
                self.say(f"{head} [dim]finished earlier, skipped")
                outcome.skipped.append(run.name)
                continue
            start = time.perf_counter()
            if not self._run_one(plan, run, head, outcome):
                outcome.status = "interrupted"
                break
            durations.append(time.perf_counter() - start)
            left = sum(r.status != "done" for r in plan.runs)
            mean = sum(durations) / len(durations)
            eta = f"; {left} run(s) left, about {_minutes(left * mean)}" if left else ""
            self.say(f"{head} [green]done[/] in {durations[-1]:.1f} s{eta}")
        return outcome

    def _run_one(self, plan: SweepPlan, run: RunPlan, head: str, outcome: SweepOutcome) -> bool:
        if run.status in ("new", "resume"):
            resume = run.status == "resume"
            stages = ", ".join(run.recipe.stages or {})
            self.say(f"{head} {'resuming' if resume else 'training'} ({stages}) in {run.run_dir}")
            summary = self.runner.train(run.recipe, run.run_dir, resume)
            if summary.get("status") != "done":
                outcome.checkpoint = summary.get("checkpoint")
                self.say(f"{head} [yellow]interrupted[/]; checkpoint {outcome.checkpoint}")
                return False
            (outcome.resumed if resume else outcome.trained).append(run.name)
            register(store_dir(plan.output), run.recipe, run.run_dir)
            run.status = "evaluate"
        self.say(f"{head} evaluating")
        result = self.runner.evaluate(run.run_dir, plan.sweep.eval)
        write_marker(run.run_dir, plan.eval_request, result.sets, result.skipped, fingerprint())
        run.status = "done"
        outcome.evaluated.append(run.name)
        if result.skipped:
            self.say(f"{head} [yellow]skipped eval set(s) {', '.join(result.skipped)}[/] (the model has no "
                     "encoder for their modality)")
        return True


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
