"""job.py

The one evaluation pipeline, for the study's sets (``mmbind eval RUN``) and published benchmarks
(``mmbind eval TARGET --benchmark NAME``) alike: for each set, predict (`predict.predict`: each distinct
prompt generated once), score (`scoring.score`: the scorer of the set's kind) and keep the result where its
`result_files` layout says (`SetFiles`: the study's ``<results>/<set>.json``; `BenchmarkFolder`: a
benchmark's resumable folder). `prepare` sets a job up; ``mmbind eval`` and the ablation runner run it;
`report` shows its results.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmbind.eval.judge.client import Judge
from mmbind.eval.outcome import EvalSettings, SetOutcome
from mmbind.eval.predict import limited, predict, prompt_count
from mmbind.eval.result_files import BenchmarkFolder, SetFiles, study_result
from mmbind.eval.scoring import prediction_rows, score
from mmbind.inference.generation import Generator
from mmbind.inference.target import Target
from mmbind.interfaces.benchmark import EvalItem, EvalSet


def answer_set(
    generator: Generator, eval_set: EvalSet, settings: EvalSettings,
    on_batch: Callable[[int], None] | None = None, folder: Path | None = None, judge: Judge | None = None,
    on_judged: Callable[[int], None] | None = None, intervals: bool = False,
) -> SetOutcome:
    """Predict (in memory, or kept in ``folder``) and score one set."""
    items = limited(eval_set.items, settings.limit)
    start = time.perf_counter()
    tokens = settings.tokens_for(eval_set.kind)
    state = predict(generator, items, settings.batch_size, tokens, on_batch, folder)
    seconds = time.perf_counter() - start
    rows = prediction_rows(items, state.answers)
    metrics, scorer = score(eval_set.kind, rows, judge, on_judged, intervals)
    return SetOutcome(eval_set, items, state, rows, metrics, scorer, seconds)


def run_set(generator: Generator, eval_set: EvalSet, settings: EvalSettings,
            on_batch: Callable[[int], None] | None = None) -> dict[str, Any]:
    """The study's result of one set (answers in memory, point scores), not written."""
    return study_result(answer_set(generator, eval_set, settings, on_batch))


@dataclass
class EvalJob:
    """A resolved evaluation, ready to run: a loaded model asked every set, results kept by ``files``."""

    target: Target  # the model and the run it belongs to
    data: Path  # the dataset (study) or the benchmark's folder or file
    generator: Generator  # the loaded model, asking with the chosen template and frame count
    sets: list[EvalSet]  # the sets to run
    settings: EvalSettings  # batch size, tokens, limit, and what the results record
    files: SetFiles | BenchmarkFolder  # where and how results are kept
    skipped: list[EvalSet] = field(default_factory=list)  # sets the model has no encoder for
    judge: Judge | None = None  # judges open answers (``qa`` sets), if any

    @property
    def items(self) -> list[EvalItem]:
        """The questions asked, over every set."""
        return [item for s in self.sets for item in limited(s.items, self.settings.limit)]

    def prompt_counts(self) -> dict[str, int]:
        """Distinct prompts each set will generate for (a progress bar's total)."""
        return {s.name: prompt_count(s, self.settings.limit) for s in self.sets}

    def run(self, on_batch: Callable[[str, int], None] | None = None,
            on_judged: Callable[[int], None] | None = None) -> dict[str, dict[str, Any]]:
        """Evaluate every set and keep its result; returns set name -> result (with its ``path``).
        ``on_batch(set, n)``: prompts generated (study) or questions done (benchmark)."""
        results = {}
        for eval_set in self.sets:
            callback = (lambda n, name=eval_set.name: on_batch(name, n)) if on_batch else None
            folder = self.files.prepare(self.generator, eval_set, self.settings)
            outcome = answer_set(self.generator, eval_set, self.settings, callback, folder, self.judge,
                                 on_judged, self.files.intervals)
            result = self.files.result(outcome)
            result["path"] = str(self.files.write(result))
            results[eval_set.name] = result
        return results
