"""validation_errors.py

`format_validation_error`: a pydantic `ValidationError` as the one line a `RecipeError` (or a sweep's
error) shows, each problem as ``field.path: what was expected (got VALUE)``, VALUE shown cut when long.
"""

from __future__ import annotations

import reprlib

from pydantic import ValidationError

_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict, _REPR.maxlevel = 120, 120, 6, 6, 3


def _short(value: object) -> str:
    """``repr(value)``, bounded: a long string or a huge nested list is shown cut (``...``)."""
    return _REPR.repr(value)


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem: ``field.path: what was expected (got VALUE)``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        got = f" (got {_short(err['input'])})" if err["type"] not in ("missing",) and "input" in err else ""
        if isinstance(err.get("input"), dict):
            got = ""
        lines.append(f"{loc or '<root>'}: {err['msg']}{got}")
    return "; ".join(lines)
