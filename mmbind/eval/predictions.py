"""predictions.py

Answers of a benchmark, generated once and kept: batched greedy generation (`Generator`: left padding,
KV cache) whose answers are appended to ``predictions.jsonl`` batch by batch, so an interrupted evaluation
continues where it stopped. The generation settings are pinned in ``generation.json`` next to them; a
re-run with different settings is refused (mixing them would make the predictions of two setups look like
one) unless it restarts. A question whose media is missing or unreadable is recorded with its error and
counted -- never a crash -- and tried again by the next run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmbind.errors import UsageError
from mmbind.eval.generation import Generator
from mmbind.eval.runner import item_query, prompt_key
from mmbind.eval.sets import EvalItem

PREDICTIONS = "predictions.jsonl"
GENERATION = "generation.json"
PINNED = ("model", "benchmark", "template", "frames", "max_new_tokens", "do_sample", "num_beams",
          "temperature", "padding", "use_cache", "data")  # a change of any of these restarts nothing silently


@dataclass
class Predictions:
    """What the predictions file holds after a run."""

    answers: dict[str, str] = field(default_factory=dict)  # id -> prediction
    errors: dict[str, str] = field(default_factory=dict)  # id -> why its media could not be read
    generated: int = 0  # questions answered by this run
    reused: int = 0  # questions answered by an earlier run


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
    folder.mkdir(parents=True, exist_ok=True)
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
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


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


def generate_predictions(generator: Generator, items: Sequence[EvalItem], folder: Path, batch_size: int,
                         max_new_tokens: int, on_batch: Callable[[int], None] | None = None) -> Predictions:
    """Answer the ``items`` not answered yet in ``folder/predictions.jsonl``; ``on_batch(n)`` counts
    questions done (already answered ones first). Identical prompts are generated once."""
    path = folder / PREDICTIONS
    state = read_predictions(path)
    state.errors.clear()  # missing media is tried again
    todo = [item for item in items if item.id not in state.answers]
    state.reused = len(items) - len(todo)
    if on_batch is not None and state.reused:
        on_batch(state.reused)
    groups: dict[tuple[str, str], list[EvalItem]] = {}
    for item in todo:
        groups.setdefault(prompt_key(item), []).append(item)
    unique = [members[0] for members in groups.values()]
    torn = path.is_file() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    with path.open("a", encoding="utf-8") as out:
        if torn:
            out.write("\n")
        queries = [item_query(i, list(generator.transforms)) for i in unique]
        for ready, answers, bad in generator.answer_readable(queries, max_new_tokens, batch_size):
            for index, reason in bad:
                for member in groups[prompt_key(unique[index])]:
                    state.errors[member.id] = reason
                    out.write(json.dumps({"id": member.id, "error": reason}) + "\n")
            for index, answer in zip(ready, answers):
                for member in groups[prompt_key(unique[index])]:
                    state.answers[member.id] = answer
                    state.generated += 1
                    out.write(json.dumps({"id": member.id, "prediction": answer}) + "\n")
            out.flush()
            if on_batch is not None:
                on_batch(sum(len(groups[prompt_key(unique[i])]) for i in [*ready, *(i for i, _ in bad)]))
    return state
