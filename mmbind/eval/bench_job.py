"""bench_job.py

``mmbind eval TARGET --benchmark NAME --data DIR``: a published benchmark read from its local files
(`benchmarks`), answered by the model behind TARGET (a run folder or an mmbind checkpoint) with
predictions kept and resumable (`predictions`), judged or scored (`bench_score`), every score with its
95% interval. Everything goes to ``<results_dir>/<benchmark>/`` (or ``--output``): ``generation.json``,
``predictions.jsonl``, ``results.json`` (settings, scorer, metrics, missing media, every prediction).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmbind.errors import InputError
from mmbind.eval.bench_score import prediction_rows, score
from mmbind.eval.benchmarks.catalog import load_benchmark
from mmbind.eval.generation import Generator
from mmbind.eval.judge.client import Judge, JudgeConfig
from mmbind.eval.predictions import generate_predictions, generation_record, pin_generation
from mmbind.eval.sets import EvalSet
from mmbind.eval.target import Target, resolve_target, video_sampling

RESULTS = "results.json"
DEFAULT_TOKENS = {"qa": 64, "pope": 16, "open": 16}  # answers the paper's judge reads are short sentences


@dataclass
class BenchSettings:
    """How the benchmark is asked."""

    batch_size: int = 16
    max_new_tokens: int | None = None  # None: by kind (DEFAULT_TOKENS)
    limit: int | None = None  # first N questions only
    options: dict[str, str] = field(default_factory=dict)  # the loader's --bench-option KEY=VALUE


@dataclass
class BenchJob:
    """A resolved benchmark evaluation, ready to run."""

    target: Target
    eval_set: EvalSet
    data: Path
    generator: Generator
    settings: BenchSettings
    output: Path
    judge: Judge | None = None
    restart: bool = False

    @property
    def items(self) -> list[Any]:
        """The questions asked."""
        items = self.eval_set.items
        return items[:self.settings.limit] if self.settings.limit else items

    @property
    def max_new_tokens(self) -> int:
        """Tokens per answer."""
        return self.settings.max_new_tokens or DEFAULT_TOKENS.get(self.eval_set.kind, 64)

    def run(self, on_generated: Callable[[int], None] | None = None,
            on_judged: Callable[[int], None] | None = None) -> dict[str, Any]:
        """Generate what is missing, score, write ``results.json``; returns the result."""
        record = generation_record(self.generator, self.eval_set.name, self.target.model_dir, self.data,
                                   self.max_new_tokens, self.settings.batch_size)
        pin_generation(self.output, record, self.restart)
        start = time.perf_counter()
        state = generate_predictions(self.generator, self.items, self.output, self.settings.batch_size,
                                     self.max_new_tokens, on_generated)
        seconds = time.perf_counter() - start
        rows = prediction_rows(self.items, state.answers)
        metrics, scorer = score(self.eval_set.kind, rows, self.judge, on_judged)
        result = {
            "benchmark": self.eval_set.name, "kind": self.eval_set.kind, "modality": self.eval_set.modality,
            "file": str(self.eval_set.file), "model": str(self.target.model_dir),
            "run": str(self.target.run_dir) if self.target.run_dir else None, "stage": self.target.stage,
            "generation": record, "scorer": scorer, "questions": len(self.items), "answered": len(rows),
            "generated_now": state.generated, "reused": state.reused, "seconds": round(seconds, 3),
            "missing_media": {"count": len(state.errors),
                              "examples": dict(list(state.errors.items())[:10])},
            "metrics": metrics, "predictions": rows,
        }
        (self.output / RESULTS).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        result["path"] = str(self.output / RESULTS)
        return result


def prepare_benchmark(
    target_path: str | Path, name: str, data: str | Path, settings: BenchSettings, *,
    stage: str | None = None, template: str | None = None, frames: int | dict[str, Any] | None = None,
    output: str | Path | None = None, judge: JudgeConfig | None = None, restart: bool = False,
    load_options: Mapping[str, str] | None = None, limits: Mapping[str, Any] | None = None,
) -> BenchJob:
    """Read the benchmark first (a bad file fails before the model loads), then load the model once."""
    from mmbind.eval.generation import default_template
    from mmbind.model import load_pretrained
    from mmbind.prompting import get_template

    target = resolve_target(target_path, stage)
    eval_set = load_benchmark(name, Path(data), dict(load_options or settings.options))
    model = load_pretrained(target.model_dir).eval()
    needed = {i.modality for i in eval_set.items if i.modality}
    missing = sorted(needed - set(model.encoders))
    if missing:
        raise InputError(f"benchmark {name!r} needs a {missing[0]} encoder; this model has: "
                         f"{', '.join(model.encoders) or 'none'}")
    chosen = get_template(template) if template else default_template(model)
    sampling = {"frames": frames} if isinstance(frames, int) else frames
    generator = Generator(model, chosen, video_sampling(target, model, sampling), limits=limits)
    out = Path(output) if output else target.results_dir / eval_set.name
    return BenchJob(target, eval_set, Path(data), generator, settings, out,
                    Judge(judge) if judge and eval_set.kind == "qa" else None, restart)
