"""predict.py

Answers to a set's questions. Identical prompts (POPE repeats its positive probes in every split) are
generated once and their answer given to every question asking them. `predict` keeps the answers in memory
(the study's sets: a file that cannot be read stops the evaluation), or in a folder: appended to
``predictions.jsonl`` batch by batch, so an interrupted evaluation continues where it stopped, and a
question whose media is missing or unreadable recorded with its error and counted -- never a crash -- and
tried again by the next run. The generation settings are pinned in ``generation.json`` next to them; a
re-run with different settings is refused (mixing them would make the predictions of two setups look like
one) unless it restarts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmbind.errors import UsageError
from mmbind.inference.generation import Generator, Query
from mmbind.interfaces.benchmark import EvalItem, EvalSet
from mmbind.output_files import make_folder, write_text_atomic, writing

PREDICTIONS = "predictions.jsonl"
GENERATION = "generation.json"
PINNED = ("model", "benchmark", "template", "frames", "max_new_tokens", "do_sample", "num_beams",
          "temperature", "padding", "use_cache", "data")  # a change of any of these restarts nothing silently


@dataclass
class Predictions:
    """The answers of one set after `predict`."""

    answers: dict[str, str] = field(default_factory=dict)  # id -> prediction
    errors: dict[str, str] = field(default_factory=dict)  # id -> why its media could not be read
    generated: int = 0  # questions answered by this run
    reused: int = 0  # questions answered by an earlier run (kept in the folder)
    prompts: int = 0  # distinct prompts this run asked


def limited(items: list[EvalItem], limit: int | None) -> list[EvalItem]:
    """The first ``limit`` items (all when ``limit`` is None or 0)."""
    return items[:limit] if limit else items


def prompt_key(item: EvalItem) -> tuple[str, str]:
    """Items with equal keys ask the same prompt about the same media: generated once."""
    return repr(item.items()), item.question


def prompt_count(eval_set: EvalSet, limit: int | None) -> int:
    """Distinct prompts among the first ``limit`` questions of ``eval_set`` (a progress bar's total)."""
    return len({prompt_key(item) for item in limited(eval_set.items, limit)})


def item_query(item: EvalItem, modalities: Sequence[str]) -> Query:
    """The question of ``item`` about those of its media that the model has an encoder for."""
    media = [(m, path) for m, path in item.items() if m in modalities]
    if not media:
        return Query(item.question)
    return Query(item.question, media[0][0], media[0][1], also=tuple(media[1:]))


def generation_record(generator: Generator, benchmark: str, model: Path, data: Path, max_new_tokens: int,
                      batch_size: int) -> dict[str, Any]:
    """The settings written to ``generation.json``."""
    import torch
    import transformers

    from mmbind.version import __version__

    return {"model": str(model), "benchmark": benchmark, "data": str(data),
            "template": generator.template.name, "frames": generator.frames,
            "max_new_tokens": max_new_tokens, "do_sample": False, "num_beams": 1, "temperature": 0.0,
            "padding": "left", "use_cache": True, "batch_size": batch_size,
            "dtype": str(next(generator.model.parameters()).dtype), "device": str(generator.device),
            "versions": {"mmbind": __version__, "torch": torch.__version__,
                         "transformers": transformers.__version__}}


def pin_generation(folder: Path, record: dict[str, Any], restart: bool) -> None:
    """Write ``generation.json``; an existing one with other pinned settings is a `UsageError` (or, with
    ``restart``, the old predictions are discarded)."""
    make_folder(folder, "the results folder")
    path = folder / GENERATION
    if restart:
        (folder / PREDICTIONS).unlink(missing_ok=True)
    elif path.is_file() and (folder / PREDICTIONS).is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = {}
        changed = [k for k in PINNED if old.get(k) != record.get(k)]
        if changed:
            first = changed[0]
            raise UsageError(
                f"{folder}: its predictions were generated with {first}={old.get(first)!r}, this run asks "
                f"{first}={record.get(first)!r}; use --restart to discard them, or another --output")
    write_text_atomic(path, json.dumps(record, indent=1) + "\n", "the generation settings")


def read_predictions(path: Path) -> Predictions:
    """The answers and errors in ``path`` (later lines win; a torn last line is ignored)."""
    out = Predictions()
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(row, dict) or "id" not in row:
            continue
        ident = str(row["id"])
        if "prediction" in row:
            out.answers[ident] = str(row["prediction"])
            out.errors.pop(ident, None)
        elif "error" in row and ident not in out.answers:
            out.errors[ident] = str(row["error"])
    return out


def predict(generator: Generator, items: Sequence[EvalItem], batch_size: int, max_new_tokens: int,
            on_batch: Callable[[int], None] | None = None, folder: Path | None = None) -> Predictions:
    """Greedy answers to ``items``, each distinct prompt generated once, ``batch_size`` prompts at a time.

    ``folder`` None: in memory, ``on_batch(n)`` counting prompts generated. Else the answers already in
    ``folder/predictions.jsonl`` are reused, the others appended there, and ``on_batch(n)`` counts
    questions done (those already answered first)."""
    state = Predictions() if folder is None else read_predictions(folder / PREDICTIONS)
    state.errors.clear()  # missing media is tried again
    todo = [item for item in items if item.id not in state.answers]
    state.reused = len(items) - len(todo)
    groups: dict[tuple[str, str], list[EvalItem]] = {}
    for item in todo:
        groups.setdefault(prompt_key(item), []).append(item)
    members = list(groups.values())
    queries = [item_query(group[0], list(generator.transforms)) for group in members]
    state.prompts = len(queries)
    if folder is None:
        for group, answer in zip(members, generator.answer(queries, max_new_tokens, batch_size, on_batch)):
            _answered(state, group, answer)
        return state
    if on_batch is not None and state.reused:
        on_batch(state.reused)
    path = folder / PREDICTIONS
    torn = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    with writing(path, "the predictions"), path.open("a", encoding="utf-8") as out:
        if torn:
            out.write("\n")
        for ready, answers, bad in generator.answer_readable(queries, max_new_tokens, batch_size):
            for index, reason in bad:
                for member in members[index]:
                    state.errors[member.id] = reason
                    out.write(json.dumps({"id": member.id, "error": reason}) + "\n")
            for index, answer in zip(ready, answers):
                _answered(state, members[index], answer)
                out.writelines(json.dumps({"id": m.id, "prediction": answer}) + "\n" for m in members[index])
            out.flush()
            if on_batch is not None:
                on_batch(sum(len(members[i]) for i in [*ready, *(i for i, _ in bad)]))
    return state


def _answered(state: Predictions, group: list[EvalItem], answer: str) -> None:
    for member in group:
        state.answers[member.id] = answer
        state.generated += 1
