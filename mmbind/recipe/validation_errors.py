"""validation_errors.py

`format_validation_error`: a pydantic `ValidationError` as the one line a `RecipeError` (or a sweep's
error) shows, each problem as ``field.path: what was expected (got VALUE)``.
"""

from __future__ import annotations

from pydantic import ValidationError


def format_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem: ``field.path: what was expected (got VALUE)``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        got = f" (got {err['input']!r})" if err["type"] not in ("missing",) and "input" in err else ""
        if isinstance(err.get("input"), dict):
            got = ""
        lines.append(f"{loc or '<root>'}: {err['msg']}{got}")
    return "; ".join(lines)
