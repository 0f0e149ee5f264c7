"""strict.py

`StrictModel`: the one pydantic base of every recipe, sweep and plugin options schema -- unknown keys are
errors (a misspelt option never silently falls back to its default).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A pydantic model that forbids keys it does not declare."""

    model_config = ConfigDict(extra="forbid")
