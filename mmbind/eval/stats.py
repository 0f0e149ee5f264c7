"""stats.py

Uncertainty of scores, by resampling questions (seeded, so a re-run prints the same numbers).

- `bootstrap_ci`: the 95% percentile bootstrap interval of a statistic of per-question values (the
  mean by default: accuracy of 0/1 correctness, the judge's mean score), or of per-question rows given
  to any ``statistic`` (POPE's F1 over (label, prediction) pairs).
- `paired_difference`: variant minus baseline over the same questions and seeds -- the mean difference,
  its paired-bootstrap 95% interval (questions resampled, the same draw for every seed, so the pairing
  by question and by seed is kept) and a two-sided p-value from a paired sign-flip permutation test of
  the per-question differences averaged over seeds. ``significant`` when p < 0.05.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
ALPHA = 0.05
SEED = 0


def bootstrap_ci(values: Sequence[float] | np.ndarray, statistic: Callable[[np.ndarray], float] | None = None,
                 resamples: int = RESAMPLES, seed: int = SEED) -> tuple[float, float]:
    """(low, high) of the 95% percentile bootstrap interval; (nan, nan) without values. ``values`` is
    resampled along its first axis; ``statistic`` (default: the mean) maps a resample to a number."""
    data = np.asarray(values, dtype=float)
    n = len(data)
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    if statistic is None:
        stats = data[draws].mean(axis=1)
    else:
        stats = np.array([statistic(data[d]) for d in draws])
    low, high = np.quantile(stats, [ALPHA / 2, 1 - ALPHA / 2])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedResult:
    """A variant against the baseline on the same questions and seeds."""

    difference: float  # mean(variant) - mean(baseline)
    low: float  # 95% paired-bootstrap interval of the difference
    high: float
    p_value: float  # two-sided paired permutation (sign-flip) test
    questions: int  # questions both have, per seed
    seeds: int  # seeds both have

    @property
    def significant(self) -> bool:
        """p < 0.05."""
        return self.p_value < ALPHA

    def to_json(self) -> dict[str, float | int | bool]:
        """JSON-able."""
        return {"difference": self.difference, "ci95": [self.low, self.high], "p_value": self.p_value,
                "significant": self.significant, "questions": self.questions, "seeds": self.seeds}


def paired_difference(variant: np.ndarray, baseline: np.ndarray, resamples: int = RESAMPLES,
                      seed: int = SEED) -> PairedResult:
    """``variant`` and ``baseline``: (seeds, questions) arrays of per-question scores, rows and columns
    paired (same seed, same question)."""
    a, b = np.atleast_2d(np.asarray(variant, float)), np.atleast_2d(np.asarray(baseline, float))
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired scores need equal, non-empty shapes (got {a.shape} and {b.shape})")
    per_question = (a - b).mean(axis=0)  # averaged over seeds
    observed = float(per_question.mean())
    rng = np.random.default_rng(seed)
    n = per_question.size
    draws = rng.integers(0, n, size=(resamples, n))
    boot = per_question[draws].mean(axis=1)
    low, high = np.quantile(boot, [ALPHA / 2, 1 - ALPHA / 2])
    signs = rng.choice(np.array([-1.0, 1.0]), size=(resamples, n))
    null = np.abs((signs * per_question).mean(axis=1))
    p_value = float((1 + np.sum(null >= abs(observed) - 1e-12)) / (resamples + 1))
    if not np.any(per_question):
        p_value = 1.0
    return PairedResult(observed, float(low), float(high), p_value, n, a.shape[0])
