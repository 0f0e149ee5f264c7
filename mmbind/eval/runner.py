"""runner.py

`evaluate`: answer every question of the chosen evaluation sets with one model and score them. Identical
prompts (POPE repeats its positive probes in every split) are generated once. Each set's result --
settings, metrics and every prediction -- is written to ``<results_dir>/<set>.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmbind.eval.metrics import open_correct, open_metrics, pope_metrics
from mmbind.eval.normalize import pope_answer
from mmbind.inference.generation import Generator, Query
from mmbind.inference.target import Target
from mmbind.interfaces.benchmark import EvalItem, EvalSet


@dataclass
class EvalSettings:
    """How questions are asked."""

    batch_size: int = 64  # prompts per generate call
    max_new_tokens: int = 10  # tokens generated per answer (short answers: a word or two and eos)
    limit: int | None = None  # first N questions of each set only
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in the results (template, frames, ...)


def score(eval_set: EvalSet, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics of ``rows`` ({"group", "answer", "prediction"}) for the set's kind."""
    if eval_set.kind == "open":
        return open_metrics({"type": r["group"], **r} for r in rows)
    return pope_metrics({"split": r["group"], **r} for r in rows)


def limited(items: list[EvalItem], limit: int | None) -> list[EvalItem]:
    """The first ``limit`` items (all when ``limit`` is None or 0)."""
    return items[:limit] if limit else items


def prompt_key(item: EvalItem) -> tuple[str, str]:
    """Items with equal keys ask the same prompt about the same media: generated once."""
    return repr(item.items()), item.question


def item_query(item: EvalItem, modalities: Sequence[str]) -> Query:
    """The question of ``item`` about those of its media that the model has an encoder for."""
    media = [(m, path) for m, path in item.items() if m in modalities]
    if not media:
        return Query(item.question)
    return Query(item.question, media[0][0], media[0][1], also=tuple(media[1:]))


def prompt_count(eval_set: EvalSet, limit: int | None) -> int:
    """Distinct prompts among the items `run_set` evaluates."""
    return len({prompt_key(item) for item in limited(eval_set.items, limit)})


def run_set(
    generator: Generator, eval_set: EvalSet, settings: EvalSettings,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Predictions and metrics for one set."""
    items = limited(eval_set.items, settings.limit)
    index: dict[tuple[str, str], int] = {}
    queries: list[Query] = []
    for item in items:
        key = prompt_key(item)
        if key not in index:
            index[key] = len(queries)
            queries.append(item_query(item, list(generator.transforms)))
    start = time.perf_counter()
    answers = generator.answer(queries, settings.max_new_tokens, settings.batch_size, on_batch)
    seconds = time.perf_counter() - start
    rows = []
    for item in items:
        prediction = answers[index[prompt_key(item)]]
        judged = (open_correct(prediction, item.answer) if eval_set.kind == "open"
                  else pope_answer(prediction) == item.answer)
        rows.append({"id": item.id, "group": item.group, "question": item.question, "answer": item.answer,
                     "prediction": prediction, "correct": judged})
    return {
        "set": eval_set.name, "kind": eval_set.kind, "modality": eval_set.modality,
        "file": str(eval_set.file),
        "samples": len(items), "unique_prompts": len(queries), "seconds": round(seconds, 3),
        "metrics": score(eval_set, rows), "predictions": rows,
    }


def write_result(target: Target, result: dict[str, Any], settings: EvalSettings) -> Path:
    """Write one set's result (with the model and settings) to ``<results_dir>/<set>.json``."""
    out = target.results_dir / f"{result['set']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    header = {"model": str(target.model_dir), "run": str(target.run_dir) if target.run_dir else None,
              "stage": target.stage, "batch_size": settings.batch_size,
              "max_new_tokens": settings.max_new_tokens, "limit": settings.limit, **settings.extra}
    out.write_text(json.dumps({**header, **result}, indent=1) + "\n", encoding="utf-8")
    return out


def evaluate(
    target: Target, generator: Generator, sets: Sequence[EvalSet], settings: EvalSettings,
    on_batch: Callable[[str, int], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run and write every set; returns set name -> result."""
    results = {}
    for eval_set in sets:
        callback = (lambda n, name=eval_set.name: on_batch(name, n)) if on_batch else None
        results[eval_set.name] = run_set(generator, eval_set, settings, callback)
        results[eval_set.name]["path"] = str(write_result(target, results[eval_set.name], settings))
    return results
