"""capability.py

`unsupported`: the error an interface's optional capability raises by default, naming the part and what it
does not support (e.g. ``encoder MaeEncoder does not support masked_encode``); `not_convertible`: the same
for the capabilities of checkpoint conversion (a `ConversionError`).
"""

from __future__ import annotations

from mmbind.errors import ConversionError, RecipeError


def unsupported(part: object, capability: str, kind: str) -> RecipeError:
    """A `RecipeError` saying that ``part`` (an encoder / LLM backend) lacks ``capability``."""
    return RecipeError(f"{kind} {type(part).__name__} does not support {capability}")


def not_convertible(part: object, capability: str, kind: str) -> ConversionError:
    """The `ConversionError` of a part that does not declare ``capability`` (what `mmbind convert` /
    ``export`` need of it), e.g. ``encoder PatchMean cannot be converted (it does not implement
    original_tower)``."""
    name = type(part).__name__
    return ConversionError(f"{kind} {name} cannot be converted (it does not implement {capability})")
