"""verdict.py

Reading the judge's reply: the first ``{...}`` in it, parsed as a Python / JSON dict literal, with
``pred`` yes or no and ``score`` a number in [0, 5]. Anything else is an invalid verdict (counted, never
guessed), as the paper's script drops replies it cannot parse.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from mmbind.json_file import parse_json

_DICT = re.compile(r"\{.*?\}", re.S)


@dataclass(frozen=True)
class Verdict:
    """One judged answer."""

    valid: bool  # the reply parsed
    correct: bool  # pred == "yes"
    score: float  # 0..5 (0 when invalid)
    raw: str  # the reply text

    def to_json(self) -> dict[str, Any]:
        """As cached."""
        return {"valid": self.valid, "correct": self.correct, "score": self.score, "raw": self.raw}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Verdict:
        """From the cache."""
        return cls(bool(value["valid"]), bool(value["correct"]), float(value["score"]), str(value["raw"]))


def parse_verdict(reply: str | None) -> Verdict:
    """The verdict in ``reply``."""
    text = reply or ""
    match = _DICT.search(text)
    if match is None:
        return Verdict(False, False, 0.0, text)
    value: Any = None
    for parse in (ast.literal_eval, parse_json):
        try:
            value = parse(match.group())
            break
        except (ValueError, SyntaxError, RecursionError, MemoryError):
            continue
    if not isinstance(value, dict):
        return Verdict(False, False, 0.0, text)
    pred, score = str(value.get("pred", "")).strip().lower(), value.get("score")
    if pred not in ("yes", "no") or isinstance(score, bool):
        return Verdict(False, False, 0.0, text)
    try:
        number = float(score)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return Verdict(False, False, 0.0, text)
    if not 0.0 <= number <= 5.0:
        return Verdict(False, False, 0.0, text)
    return Verdict(True, pred == "yes", number, text)
