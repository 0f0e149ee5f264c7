"""outcome.py

What one evaluation is asked with (`EvalSettings`: batch size, tokens per answer, the question limit, what
the results record) and what one set gives (`SetOutcome`: its questions, predictions, marked rows, metrics
and scorer), shared by the job that runs sets (`mmbind.eval.job`) and the files that keep their results
(`mmbind.eval.result_files`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mmbind.eval.predict import Predictions
from mmbind.eval.scoring import Rows
from mmbind.interfaces.benchmark import EvalItem, EvalSet

DEFAULT_TOKENS = {"qa": 64, "pope": 16, "open": 16}  # answers the paper's judge reads are short sentences


@dataclass
class EvalSettings:
    """How questions are asked."""

    batch_size: int = 64  # prompts per generate call
    max_new_tokens: int | None = 10  # tokens generated per answer; None: by the set's kind (DEFAULT_TOKENS)
    limit: int | None = None  # first N questions of each set only
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in the results (template, frames, ...)

    def tokens_for(self, kind: str) -> int:
        """Tokens per answer to a set of ``kind``."""
        return self.max_new_tokens or DEFAULT_TOKENS.get(kind, 64)


@dataclass
class SetOutcome:
    """One set predicted and scored."""

    eval_set: EvalSet
    items: list[EvalItem]  # the questions asked (the first ``limit``)
    predictions: Predictions
    rows: Rows  # one per answered question, marked
    metrics: dict[str, Any]
    scorer: dict[str, Any]  # how it was scored (name, label, comparability; the judge's verdict counts)
    seconds: float  # generating
