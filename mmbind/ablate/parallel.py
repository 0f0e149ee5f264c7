"""parallel.py

``mmbind ablate --jobs N``: up to N (variant, seed) runs at once, each in its own process
(`mmbind.ablate.child`) with its share of the processor's cores, so that N jobs x T threads <= cores:

- a run in the reproducible numerics mode gets the environment of its recipe's ``numerics.threads``
  (`mmbind.numerics.pinned_env`), which makes it bit-identical to the same run made one by one;
- a run in the default mode gets T = cores // N threads (OMP_NUM_THREADS / MKL_NUM_THREADS), so, as any
  other thread count would, its bits may differ from a run made with all the cores (its numerics
  fingerprint records the count, and the sweep's table says when numerics are mixed).

Each child writes its output to ``RUN/ablate.log``; the terminal gets one line when a run starts and one
when it ends. Shared training (`shared.py`) is decided when a run is about to start, and a run whose
recipe is the same as one still running, or begins with the same stages, waits for it, so a sweep trains
what the one-by-one executor would. Ctrl-C is passed on to the children (once per Ctrl-C: the first makes
a training save a checkpoint and stop, a second aborts it); the sweep then stops as interrupted and the
same command resumes it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from mmbind.ablate.plan import RunPlan, SweepPlan
from mmbind.ablate.shared import prefix_key, recipe_key, register, share_training, store_dir
from mmbind.ablate.state import recipe_dump
from mmbind.errors import SweepError
from mmbind.numerics import pinned_env, released_env

LOG = "ablate.log"  # RUN/ablate.log: a child's output
POLL_S = 0.2


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def child_env(run: RunPlan, threads: int) -> dict[str, str]:
    """The environment of ``run``'s process (``threads``: its share in the default mode)."""
    numerics = run.recipe.numerics
    if numerics.reproducible:
        return {**os.environ, **pinned_env(numerics.threads)}
    return {**released_env(os.environ), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}


@dataclass
class Child:
    """A run in progress."""

    run: RunPlan
    head: str  # "[k/n] variant/seed<K>"
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    result: Path
    started: float
    trained: bool  # it trains (else it only evaluates)
    resume: bool


class ParallelSweep:
    """Runs the pending runs of a plan N at a time; ``say`` prints one progress line."""

    def __init__(self, jobs: int, say: Callable[[str], None], cores: int | None = None) -> None:
        self.jobs = jobs
        self.say = say
        self.cores = cores or available_cores()
        self.threads = max(1, self.cores // jobs)  # per run, in the default numerics mode
        self._key_cache: dict[int, list[str]] = {}

    def run(self, plan: SweepPlan, outcome) -> None:  # type: ignore[no-untyped-def]
        """Run every run of ``plan`` that is not done, filling ``outcome`` (a `SweepOutcome`)."""
        total, store = len(plan.runs), store_dir(plan.output)
        numbers = {id(r): k for k, r in enumerate(plan.runs, 1)}
        queue = [r for r in plan.runs if self._settle(r, store, numbers[id(r)], total, outcome)]
        self._warn_oversubscribed(queue)
        running: list[Child] = []
        durations: list[float] = []
        failed: list[str] = []
        stopping = False
        with tempfile.TemporaryDirectory(prefix="mmbind-ablate-") as scratch:
            while queue or running:
                try:
                    while not stopping and not failed and queue and len(running) < self.jobs:
                        run = self._next(queue, running, store, numbers, total, outcome)
                        if run is None:
                            break
                        head = f"[bold][{numbers[id(run)]}/{total}] {run.name}[/]"
                        running.append(self._start(plan, run, head, Path(scratch)))
                    time.sleep(POLL_S)
                    for child in [c for c in running if c.process.poll() is not None]:
                        running.remove(child)
                        self._finish(plan, child, store, outcome, durations, failed, stopping)
                    if stopping or failed:
                        queue.clear()
                except KeyboardInterrupt:  # passed on once: a child saves a checkpoint (twice: it aborts)
                    stopping = True
                    outcome.status = "interrupted"
                    for child in running:
                        child.process.send_signal(signal.SIGINT)
        if failed:
            raise SweepError("; ".join(failed))

    def _settle(self, run: RunPlan, store: Path, number: int, total: int, outcome) -> bool:  # type: ignore[no-untyped-def]
        """Skip a finished run (True: it still has to run)."""
        if run.status != "done":
            return True
        register(store, run.recipe, run.run_dir)
        self.say(f"[bold][{number}/{total}] {run.name}[/] [dim]finished earlier, skipped")
        outcome.skipped.append(run.name)
        return False

    def _next(self, queue: list[RunPlan], running: list[Child], store: Path, numbers: dict[int, int],
              total: int, outcome) -> RunPlan | None:  # type: ignore[no-untyped-def]
        """The first queued run that does not wait for a running one of the same recipe, or one that begins
        with the same stages (shared training adopted now, as the one-by-one executor would)."""
        busy = {key for c in running if c.trained for key in self._keys(c.run)}
        for run in queue:
            if run.status == "new" and busy.intersection(self._keys(run)):
                continue
            queue.remove(run)
            shared = share_training(store, run.recipe, run.run_dir) if run.status == "new" else None
            if shared is not None:
                run.status = shared[0]
                (outcome.shared if run.status == "evaluate" else outcome.shared_stages).append(run.name)
                self.say(f"[bold][{numbers[id(run)]}/{total}] {run.name}[/] [dim]{shared[1]}")
            return run
        return None

    def _keys(self, run: RunPlan) -> list[str]:
        """The store keys of ``run``'s recipe: whole, and of each prefix of its stages (computed once)."""
        if id(run) not in self._key_cache:
            count = len(run.recipe.stages or {})
            self._key_cache[id(run)] = [recipe_key(run.recipe),
                                        *(prefix_key(run.recipe, k) for k in range(1, count + 1))]
        return self._key_cache[id(run)]

    def _start(self, plan: SweepPlan, run: RunPlan, head: str, scratch: Path) -> Child:
        trained = run.status in ("new", "resume")
        job = {"recipe": recipe_dump(run.recipe), "run_dir": str(run.run_dir), "status": run.status,
               "eval": plan.sweep.eval.model_dump(mode="json"), "eval_request": plan.eval_request,
               "result": str(scratch / f"{run.variant}-seed{run.seed}.result.json")}
        job_file = scratch / f"{run.variant}-seed{run.seed}.job.json"
        job_file.write_text(json.dumps(job), encoding="utf-8")
        run.run_dir.mkdir(parents=True, exist_ok=True)
        log = (run.run_dir / LOG).open("wb")
        env = child_env(run, self.threads)
        process = subprocess.Popen([sys.executable, "-m", "mmbind.ablate.child", str(job_file)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)  # Ctrl-C reaches it through this process only
        stages = ", ".join(run.recipe.stages or {})
        verb = "resuming" if run.status == "resume" else "training"
        what = f"{verb} ({stages})" if trained else "evaluating"
        threads = run.recipe.numerics.threads if run.recipe.numerics.reproducible else self.threads
        self.say(f"{head} {what} in {run.run_dir} [dim](pid {process.pid}, {threads} thread(s))")
        return Child(run, head, process, log, Path(job["result"]), time.perf_counter(), trained,
                     run.status == "resume")

    def _finish(self, plan: SweepPlan, child: Child, store: Path, outcome, durations: list[float],  # type: ignore[no-untyped-def]
                failed: list[str], stopping: bool) -> None:
        child.log.close()
        run, head = child.run, child.head
        try:
            result = json.loads(child.result.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result = None
        if result is None:
            if stopping:
                self.say(f"{head} [yellow]stopped[/]; its output: {run.run_dir / LOG}")
                return
            tail = _tail(run.run_dir / LOG)
            self.say(f"{head} [red]failed[/] (exit status {child.process.returncode}); {run.run_dir / LOG}")
            failed.append(f"{run.name} failed (exit status {child.process.returncode}; its output is in "
                          f"{run.run_dir / LOG}): {tail}")
            return
        if result["status"] != "done":
            outcome.status = "interrupted"
            outcome.checkpoint = result.get("checkpoint")
            self.say(f"{head} [yellow]interrupted[/]; checkpoint {outcome.checkpoint}")
            return
        if child.trained:
            (outcome.resumed if child.resume else outcome.trained).append(run.name)
            register(store, run.recipe, run.run_dir)
        outcome.evaluated.append(run.name)
        run.status = "done"
        durations.append(time.perf_counter() - child.started)
        if result.get("skipped"):
            skipped = ", ".join(result["skipped"])
            self.say(f"{head} [yellow]skipped eval set(s) {skipped}[/] (the model has no encoder for their "
                     "modality)")
        left = sum(r.status != "done" for r in plan.runs)
        mean = sum(durations) / len(durations)
        eta = ""
        if left and not stopping:
            eta = f"; {left} run(s) left, about {_minutes(left * mean / self.jobs)}"
        self.say(f"{head} [green]done[/] in {durations[-1]:.1f} s{eta}")

    def _warn_oversubscribed(self, queue: list[RunPlan]) -> None:
        widest = max((r.recipe.numerics.threads for r in queue if r.recipe.numerics.reproducible), default=0)
        if widest and min(self.jobs, len(queue)) * widest > self.cores:
            self.say(f"[yellow]note:[/] {self.jobs} jobs x {widest} thread(s) is more than the {self.cores} "
                     "core(s) here: the runs share cores (same results, slower)")


def _tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no output)"
    return " | ".join(line.strip() for line in text[-lines:]) or "(no output)"


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
