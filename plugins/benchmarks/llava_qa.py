"""llava_qa.py

A generic LLaVA-style question file, so any image or video set can be scored: JSON lines (or a JSON
array) of ``{"question_id" | "id", "image" | "video" | "media", "text" | "question", "answer"}``, media
paths relative to the file (or option ``media``). Answers may instead be in a separate file (option
``answers``, or ``answers.jsonl`` next to ``questions.jsonl``) of ``{"question_id" | "id", "answer" |
"text"}``. ``category`` (or ``type``) groups the scores. Option ``kind``: ``qa`` (default; judged),
``open`` (normalised exact match) or ``pope`` (yes/no answers, POPE's scores by category).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mmbind import BenchmarkEntry, hookimpl, row_media
from mmbind.errors import DataError
from mmbind.interfaces.benchmark import EvalItem, EvalSet
from mmbind.interfaces.benchmark_helpers import (
    bad_entry,
    entry_id,
    options_path,
    read_entries,
    text_field,
)

QUESTION_FILES = ("questions.jsonl", "questions.json", "question.jsonl")
ANSWER_FILES = ("answers.jsonl", "answers.json")
KINDS = ("qa", "open", "pope")


def _answers(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for index, entry in enumerate(read_entries(path)):
        ident = entry_id(entry)
        answer = text_field(entry, ("answer", "text", "label")) if isinstance(entry, dict) else None
        if ident is None or answer is None:
            raise bad_entry(path, index, entry, "needs 'question_id' (or 'id') and 'answer'")
        if ident in out:
            raise bad_entry(path, index, entry, "duplicate question id")
        out[ident] = answer
    return out


def load_llava_qa(data: Path, options: Mapping[str, str], name: str | None = None) -> EvalSet:
    """The set of a question file (``data``), or of ``questions.jsonl`` in the folder ``data``."""
    data = Path(data)
    qfile = data if data.is_file() else next((data / n for n in QUESTION_FILES if (data / n).is_file()), None)
    if qfile is None:
        raise DataError(f"{data}: no question file ({' / '.join(QUESTION_FILES)})")
    kind = options.get("kind", "qa")
    if kind not in KINDS:
        raise DataError(f"--bench-option kind={kind}: expected one of {', '.join(KINDS)}")
    nearby = (qfile.parent / n for n in ANSWER_FILES)
    afile = options_path(options, "answers", qfile.parent) or next(
        (p for p in nearby if p.is_file() and p != qfile), None)
    answers = _answers(afile) if afile else {}
    base = options_path(options, "media", qfile.parent) or qfile.parent
    items: list[EvalItem] = []
    seen: set[str] = set()
    for index, entry in enumerate(read_entries(qfile)):
        if not isinstance(entry, dict):
            raise bad_entry(qfile, index, entry, "not a JSON object")
        ident = entry_id(entry)
        question = text_field(entry, ("question", "text", "prompt"))
        if ident is None:
            raise bad_entry(qfile, index, entry, "no 'question_id' (or 'id')")
        if ident in seen:
            raise bad_entry(qfile, index, entry, "duplicate question id")
        seen.add(ident)
        if not question or not question.strip():
            raise bad_entry(qfile, index, entry, "no 'text' (or 'question')")
        inline = text_field(entry, ("answer", "label", "gt_answer"))
        answer = inline if inline is not None else answers.get(ident)
        if answer is None:
            where = f"in {afile}" if afile else "(no 'answer' field and no answers file)"
            raise bad_entry(qfile, index, entry, f"no answer {where}")
        try:
            modality, media = row_media(entry, base)
        except ValueError as exc:
            raise bad_entry(qfile, index, entry, str(exc)) from None
        group = text_field(entry, ("category", "type")) or "all"
        if kind == "pope":
            answer = "no" if answer.strip().lower().startswith("no") else "yes"
        items.append(EvalItem(ident, modality, media, question.strip(), answer, group))
    if not items:
        raise DataError(f"{qfile}: no questions")
    modalities = {i.modality for i in items if i.modality}
    modality = modalities.pop() if len(modalities) == 1 else ("mixed" if modalities else "text")
    return EvalSet(name or options.get("name") or qfile.stem, kind, modality, qfile, items)


@hookimpl
def mmbind_benchmarks() -> list[BenchmarkEntry]:
    return [BenchmarkEntry("llava_qa", load_llava_qa,
                           "a LLaVA-style question file (JSONL id / media / question)")]
