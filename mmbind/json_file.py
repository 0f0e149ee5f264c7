"""json_file.py

The one door for JSON a user supplied (dataset, manifest, eval set, benchmark questions, `mmbind infer`
input lines, checkpoint config and shard index, server request bodies): `parse_json` parses text under
limits and raises `NotJson` (reason, line, column, field), `parse_json_lines` one value per line (raising
`NotJsonLine`); `read_json` / `read_json_lines` read a file and turn that into the caller's typed error
naming the file (and line, and field).

Limits, so valid but hostile JSON is refused with a message instead of a traceback deep inside a command:

- nesting deeper than `MAX_DEPTH` arrays/objects (the parser's own ``RecursionError`` past Python's limit
  is caught too; the depth is measured with an explicit stack, never by recursion);
- integers of more than `MAX_INT_DIGITS` digits (Python refuses past 4300 with a ``ValueError``);
- ``NaN`` / ``Infinity``, which are not JSON (Python's parser accepts them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mmbind.errors import MmbindError

MAX_DEPTH = 64  # nested arrays / objects; mmbind's own formats need fewer than 8
MAX_INT_DIGITS = 100  # digits of one integer


class NotJson(ValueError):
    """Text that is not JSON mmbind accepts: ``reason``, where (1-based ``line`` / ``column``, 0: unknown)
    and the ``field`` (``[3].conversations[0]``) when the value parsed but breaks a limit."""

    def __init__(self, reason: str, line: int = 0, column: int = 0, field: str = "") -> None:
        self.reason, self.line, self.column, self.field = reason, line, column, field
        super().__init__(self.detail())

    def detail(self) -> str:
        """``reason, line L, column C`` / ``reason at field F`` (as known)."""
        where = f", line {self.line}, column {self.column}" if self.line else ""
        return self.reason + (f" at {self.field}" if self.field else "") + where


class _Refused(Exception):
    """Raised from the parser's hooks; carries the reason out of ``json.loads``."""


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(digits.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(digits)


def _constant(name: str) -> float:
    raise _Refused(f"{name} is not a JSON value")


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of ``text[index]``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def _too_deep_at(text: str) -> int:
    """Index of the first bracket that opens level ``MAX_DEPTH + 1`` (strings skipped); -1: none."""
    depth = 0
    for match in _TOKEN.finditer(text):
        char = match.group()[0]
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return match.start()
        elif char in "]}":
            depth -= 1
    return -1


def _deepest(value: Any) -> str | None:
    """The path of a value nested deeper than `MAX_DEPTH` (None: none), walked with an explicit stack."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, (dict, list)):
            if depth >= MAX_DEPTH:
                return path or "the top level"
            pairs = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in pairs:
                if isinstance(child, (dict, list)):
                    step = f"[{key}]" if isinstance(node, list) else (f".{key}" if path else str(key))
                    stack.append((child, depth + 1, path + step))
    return None


def parse_json(text: str | bytes) -> Any:
    """The value of ``text`` (`NotJson` when it is not JSON, or breaks a limit)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotJson(f"not UTF-8 text: {exc.reason}") from None
    deep = f"nested more than {MAX_DEPTH} levels deep"
    try:
        value = json.loads(text, parse_int=_integer, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise NotJson(exc.msg, exc.lineno, exc.colno) from None
    except _Refused as exc:
        raise NotJson(str(exc)) from None
    except RecursionError:
        at = _too_deep_at(text)
        raise NotJson(deep, *(_position(text, at) if at >= 0 else (0, 0))) from None
    if isinstance(value, (dict, list)):
        field = _deepest(value)
        if field is not None:
            raise NotJson(deep, field=field)
    return value


def read_json(path: Path, error: type[MmbindError]) -> Any:
    """The parsed content of ``path``; invalid JSON or text -> ``error("<path>: not valid JSON (...)")``;
    a file that cannot be read -> ``error("<path>: cannot be read (...)")``."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return parse_json(data)
    except NotJson as exc:
        raise error(f"{path}: not valid JSON ({exc.detail()})") from None


def read_json_lines(path: Path, error: type[MmbindError]) -> list[Any]:
    """One JSON value per non-empty line of ``path``; the first bad line ->
    ``error("<path>: not valid JSON (line N: ...)")``."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not valid JSON (not UTF-8 text: {exc.reason})") from None
    try:
        return parse_json_lines(text)
    except NotJsonLine as exc:
        raise error(f"{path}: not valid JSON (line {exc.number}: {exc.what})") from None


class NotJsonLine(ValueError):
    """A line of a JSON-lines text that `parse_json` refused: its number and what is wrong (the reason,
    with the field where there is one)."""

    def __init__(self, number: int, cause: NotJson) -> None:
        self.number = number
        self.what = cause.reason + (f" at {cause.field}" if cause.field else "")
        super().__init__(f"line {number}: {self.what}")


def parse_json_lines(text: str) -> list[Any]:
    """One `parse_json` value per non-empty line of ``text``; `NotJsonLine` for the first refused line."""
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                values.append(parse_json(line))
            except NotJson as exc:
                raise NotJsonLine(number, exc) from None
    return values
