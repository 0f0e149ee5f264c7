"""rows.py

The input of `mmbind infer`: a JSON-lines file, one question per line::

    {"id": "q1", "question": "What colour is the square?", "image": "images/00000.png"}
    {"id": "q2", "question": "Which way does it move?", "video": "videos/00003.mp4"}
    {"id": "q3", "question": "Say hello."}
    {"id": "q4", "question": "...", "media": "clip.mp4"}          # modality from the suffix
    {"id": "q5", "question": "...", "depth": "maps/00001.png"}    # any modality a loader reads

Media paths are relative to the input file's folder. A row that is not a JSON object, lacks an ``id`` or a
``question``, repeats an id or names two media is reported (by id, else by line number) and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmbind.data.media_readers import row_media
from mmbind.errors import DataError
from mmbind.json_file import NotJson, parse_json


@dataclass(frozen=True)
class InferRow:
    """One question to answer."""

    id: str
    question: str
    modality: str | None = None
    media: Path | None = None


@dataclass(frozen=True)
class BadRow:
    """A row that is skipped, and why."""

    id: str  # the row's id, or "line N" when it has none
    reason: str


def _printable(text: str) -> bool:
    """Whether ``text`` is valid Unicode (no lone surrogate), so it can be shown and written."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _row(value: object, line: int, base: Path) -> InferRow:
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    if (not isinstance(value.get("id"), (str, int)) or isinstance(value.get("id"), bool)
            or value.get("id") == ""):
        raise ValueError("no id (a string or an integer)")
    ident = str(value["id"])
    if not _printable(ident):
        raise ValueError("the id is not valid Unicode text")
    question = value.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("no question")
    modality, path = row_media(value, base)
    if modality is None:
        return InferRow(ident, question)
    return InferRow(ident, question, modality, path)


def read_rows(path: Path) -> tuple[list[InferRow], list[BadRow]]:
    """The good rows of ``path`` in file order, and the bad ones."""
    if not path.is_file():
        raise DataError(f"{path}: no such input file")
    rows: list[InferRow] = []
    bad: list[BadRow] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                value = parse_json(line)
            except NotJson as exc:
                field = f" at {exc.field}" if exc.field else ""
                bad.append(BadRow(f"line {number}", f"malformed JSON ({exc.reason}{field})"))
                continue
            ident = str(value["id"]) if isinstance(value, dict) and "id" in value else f"line {number}"
            ident = ident if _printable(ident) else f"line {number}"
            try:
                row = _row(value, number, path.parent)
            except ValueError as exc:
                bad.append(BadRow(ident, str(exc)))
                continue
            if row.id in seen:
                bad.append(BadRow(row.id, f"duplicate id (line {number})"))
                continue
            seen.add(row.id)
            rows.append(row)
    return rows, bad


def answered_ids(path: Path) -> set[str]:
    """Ids already in an output file (a torn last line from an interrupted run is ignored)."""
    if not path.is_file():
        return set()
    done: set[str] = set()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                value = parse_json(line)
            except NotJson:
                continue
            if isinstance(value, dict) and "id" in value:
                done.add(str(value["id"]))
    return done
