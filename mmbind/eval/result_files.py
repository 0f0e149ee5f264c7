"""result_files.py

Where an evaluation keeps its results, and in which format:

- `SetFiles` (``mmbind eval RUN``): one ``<results_dir>/<set>.json`` per set -- the model, stage and
  settings, then the set's point scores and every prediction (`study_result`); answers are not kept between
  runs.
- `BenchmarkFolder` (``mmbind eval TARGET --benchmark NAME``): ``<results_dir>/<benchmark>/`` (or
  ``--output``) holding ``generation.json`` (the pinned generation settings), ``predictions.jsonl`` (kept
  and resumed, `predict`) and ``results.json`` (settings, scorer, scores with their 95% intervals, missing
  media, every prediction).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmbind.eval.predict import generation_record, pin_generation
from mmbind.inference.generation import Generator
from mmbind.inference.target import Target
from mmbind.interfaces.benchmark import EvalSet
from mmbind.output_files import write_text_atomic

if TYPE_CHECKING:
    from mmbind.eval.outcome import EvalSettings, SetOutcome

RESULTS = "results.json"


def study_result(outcome: SetOutcome) -> dict[str, Any]:
    """One study set's result: what it is, its questions, point scores and predictions."""
    s = outcome.eval_set
    return {
        "set": s.name, "kind": s.kind, "modality": s.modality, "file": str(s.file),
        "samples": len(outcome.items), "unique_prompts": outcome.predictions.prompts,
        "seconds": round(outcome.seconds, 3), "metrics": outcome.metrics, "predictions": outcome.rows,
    }


class SetFiles:
    """The study's results: ``<folder>/<set>.json`` each, headed by the model and the settings."""

    intervals = False  # point scores

    def __init__(self, target: Target, settings: EvalSettings) -> None:
        self.target = target
        self.settings = settings
        self.folder = target.results_dir

    def prepare(self, generator: Generator, eval_set: EvalSet, settings: EvalSettings) -> Path | None:
        """Where the set's answers are kept: nowhere (in memory)."""
        return None

    def result(self, outcome: SetOutcome) -> dict[str, Any]:
        """The set's result."""
        return study_result(outcome)

    def write(self, result: dict[str, Any]) -> Path:
        """Write one set's result (with the model and settings) to ``<folder>/<set>.json``."""
        out = self.folder / f"{result['set']}.json"
        target, settings = self.target, self.settings
        header = {"model": str(target.model_dir), "run": str(target.run_dir) if target.run_dir else None,
                  "stage": target.stage, "batch_size": settings.batch_size,
                  "max_new_tokens": settings.max_new_tokens, "limit": settings.limit, **settings.extra}
        write_text_atomic(out, json.dumps({**header, **result}, indent=1) + "\n", "the results")
        return out


class BenchmarkFolder:
    """A benchmark's results folder: pinned generation settings, resumable predictions, ``results.json``."""

    intervals = True  # every score with its 95% interval

    def __init__(self, target: Target, folder: Path, data: Path, restart: bool = False) -> None:
        self.target = target
        self.folder = folder
        self.data = data  # the benchmark's folder or file, recorded
        self.restart = restart  # discard earlier predictions
        self.generation: dict[str, Any] = {}  # what prepare pinned

    def prepare(self, generator: Generator, eval_set: EvalSet, settings: EvalSettings) -> Path | None:
        """Pin the generation settings (`pin_generation`); the folder keeping the predictions."""
        self.generation = generation_record(generator, eval_set.name, self.target.model_dir, self.data,
                                            settings.tokens_for(eval_set.kind), settings.batch_size)
        pin_generation(self.folder, self.generation, self.restart)
        return self.folder

    def result(self, outcome: SetOutcome) -> dict[str, Any]:
        """The benchmark's result."""
        s, state, target = outcome.eval_set, outcome.predictions, self.target
        return {
            "benchmark": s.name, "kind": s.kind, "modality": s.modality, "file": str(s.file),
            "model": str(target.model_dir), "run": str(target.run_dir) if target.run_dir else None,
            "stage": target.stage, "generation": self.generation, "scorer": outcome.scorer,
            "questions": len(outcome.items), "answered": len(outcome.rows), "generated_now": state.generated,
            "reused": state.reused, "seconds": round(outcome.seconds, 3),
            "missing_media": {"count": len(state.errors), "examples": dict(list(state.errors.items())[:10])},
            "metrics": outcome.metrics, "predictions": outcome.rows,
        }

    def write(self, result: dict[str, Any]) -> Path:
        """Write ``results.json``."""
        write_text_atomic(self.folder / RESULTS, json.dumps(result, indent=1) + "\n", "the results")
        return self.folder / RESULTS
