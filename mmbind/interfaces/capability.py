"""capability.py

`unsupported`: the error an interface's optional capability raises by default, naming the part and what it
does not support (e.g. ``encoder MaeEncoder does not support masked_encode``).
"""

from __future__ import annotations

from mmbind.errors import RecipeError


def unsupported(part: object, capability: str, kind: str) -> RecipeError:
    """A `RecipeError` saying that ``part`` (an encoder / LLM backend) lacks ``capability``."""
    return RecipeError(f"{kind} {type(part).__name__} does not support {capability}")
