"""runner.py

`run_inference`: answers the rows of `mmbind infer` in batches of similar prompt length (sorted by token
count, so little padding), appending each batch's answers to the output file as soon as it is done (one
JSON line per row: id, question, media, answer). Ids already in the output are skipped, so an interrupted
run continues where it stopped. A row whose media cannot be read, or whose question the text guard refuses
(not valid Unicode, longer than the model's context), is reported by id and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mmbind.errors import PromptError
from mmbind.infer.rows import BadRow, InferRow
from mmbind.inference.generation import Generator, Query
from mmbind.output_files import make_folder, writing


@dataclass
class InferResult:
    """What a run did."""

    answered: int = 0
    skipped_done: int = 0
    bad: list[BadRow] = field(default_factory=list)


def by_length(generator: Generator, rows: Sequence[InferRow]) -> tuple[list[InferRow], list[BadRow]]:
    """``rows`` sorted by prompt length in tokens (stable), and those whose text the guard refuses (not
    valid Unicode, longer than the model's context: `Generator.prompt_ids`)."""
    lengths: dict[int, int] = {}
    bad: list[BadRow] = []
    for index, row in enumerate(rows):
        try:
            lengths[index] = len(generator.prompt_ids(Query(row.question, row.modality, row.media)))
        except PromptError as exc:
            bad.append(BadRow(row.id, str(exc)))
    return [rows[i] for i in sorted(lengths, key=lambda i: lengths[i])], bad


def run_inference(generator: Generator, rows: Sequence[InferRow], output: Path, done: set[str],
                  batch_size: int = 16, max_new_tokens: int = 64,
                  on_rows: Callable[[int], None] | None = None) -> InferResult:
    """Answer every row whose id is not in ``done``; ``on_rows(n)`` after each batch (answered or bad)."""
    result = InferResult(skipped_done=sum(1 for r in rows if r.id in done))
    todo, refused = by_length(generator, [r for r in rows if r.id not in done])
    result.bad += refused
    if on_rows is not None and refused:
        on_rows(len(refused))
    make_folder(output.parent)
    torn = output.is_file() and output.stat().st_size > 0 and not output.read_bytes().endswith(b"\n")
    with writing(output), output.open("a", encoding="utf-8") as out:
        if torn:  # an interrupted run's last line: end it, so the next answer starts a line of its own
            out.write("\n")
        queries = [Query(r.question, r.modality, r.media) for r in todo]
        for ready, answers, bad in generator.answer_readable(queries, max_new_tokens, batch_size):
            result.bad += [BadRow(todo[index].id, reason) for index, reason in bad]
            for index, answer in zip(ready, answers):
                row = todo[index]
                media = None if row.media is None else {row.modality: str(row.media)}
                out.write(json.dumps({"id": row.id, "question": row.question, "media": media,
                                      "answer": answer}) + "\n")
            out.flush()
            result.answered += len(ready)
            if on_rows is not None:
                on_rows(len(ready) + len(bad))
    return result
