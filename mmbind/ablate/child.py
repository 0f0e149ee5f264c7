"""child.py

One (variant, seed) run of a sweep in its own process, as ``mmbind ablate --jobs N`` starts it:

    python -m mmbind.ablate.child JOB.json

``JOB.json`` holds the resolved recipe, the run folder, whether to train from scratch, resume or only
evaluate, and the sweep's eval settings. The child trains (`LocalRunner`, no progress bars), evaluates,
writes the run's ``ablate.json`` marker (with the numerics fingerprint it evaluated under) and finally the
job's result file: ``{"status": "done" | "interrupted", "checkpoint": ..., "skipped": [...]}``. Its numerics
come from the environment its parent gave it (`mmbind.ablate.parallel`), set before torch is imported.
Exit status 0 when done, 130 / 143 when stopped by SIGINT / SIGTERM (a checkpoint saved); the process ends
without the interpreter's teardown once everything is written.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Do the job; returns what the result file holds."""
    from rich.console import Console

    from mmbind.ablate.runner import LocalRunner
    from mmbind.ablate.schema import EvalSpec
    from mmbind.ablate.state import write_marker
    from mmbind.numerics import configure_torch, fingerprint
    from mmbind.recipe import recipe_from_dict

    configure_torch()  # the pinned mode's torch settings, for a job that only evaluates too
    run_dir = Path(job["run_dir"])
    runner = LocalRunner(Console(stderr=True, highlight=False), progress=False)
    if job["status"] in ("new", "resume"):
        recipe = recipe_from_dict(job["recipe"], source=f"{run_dir} (sweep variant)")
        summary = runner.train(recipe, run_dir, job["status"] == "resume")
        if summary.get("status") != "done":
            return {"status": "interrupted", "checkpoint": summary.get("checkpoint"),
                    "signal": summary.get("signal")}
    result = runner.evaluate(run_dir, EvalSpec.model_validate(job["eval"]))
    write_marker(run_dir, job["eval_request"], result.sets, result.skipped, fingerprint())
    return {"status": "done", "skipped": result.skipped}


def main(argv: list[str]) -> int:
    """``python -m mmbind.ablate.child JOB.json``."""
    job_file = Path(argv[0])
    job = json.loads(job_file.read_text(encoding="utf-8"))
    from mmbind.errors import MmbindError

    try:
        result = run_job(job)
    except MmbindError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    Path(job["result"]).write_text(json.dumps(result) + "\n", encoding="utf-8")
    if result["status"] == "interrupted":
        return 143 if result.get("signal") == "SIGTERM" else 130
    return 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # everything is written and closed: skip the teardown of torch and the model (seconds)
