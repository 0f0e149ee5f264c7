"""stats.py

Uncertainty of scores, by resampling questions (seeded, so a re-run prints the same numbers).

- `bootstrap_ci`: the 95% percentile bootstrap interval of a statistic of per-question values (the
  mean by default: accuracy of 0/1 correctness, the judge's mean score), or of per-question rows given
  to any ``statistic`` (POPE's F1 over (label, prediction) pairs).
- `paired_difference`: variant minus baseline over the same questions and seeds -- the mean difference,
  its two-level paired-bootstrap 95% interval (seeds and questions both resampled, pairs kept) and the
  bootstrap's two-sided p-value. ``significant`` when p < 0.05.
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
    p_value: float  # two-sided, from the two-level paired bootstrap
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
    paired (same seed, same question).

    Two-level paired bootstrap: each resample draws the seeds with replacement and, independently, the
    questions with replacement, and takes the mean difference over the drawn (seed, question) cells; so the
    interval is as wide as the spread between seeds makes it, not only the spread between questions (a
    variant better on two seeds and much worse on the third is not called better). The two-sided p-value is
    the bootstrap's: twice the share of resamples on the far side of zero (with +1 smoothing). With one
    seed this is the usual paired bootstrap over questions."""
    a, b = np.atleast_2d(np.asarray(variant, float)), np.atleast_2d(np.asarray(baseline, float))
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired scores need equal, non-empty shapes (got {a.shape} and {b.shape})")
    diff = a - b
    seeds, n = diff.shape
    observed = float(diff.mean())
    rng = np.random.default_rng(seed)
    counts = np.zeros((resamples, n))
    np.add.at(counts, (np.arange(resamples)[:, None], rng.integers(0, n, size=(resamples, n))), 1.0)
    per_seed = diff @ counts.T / n  # (seeds, resamples): each seed's mean over the drawn questions
    drawn = rng.integers(0, seeds, size=(resamples, seeds))
    boot = per_seed[drawn, np.arange(resamples)[:, None]].mean(axis=1)
    low, high = np.quantile(boot, [ALPHA / 2, 1 - ALPHA / 2])
    far_side = min(np.sum(boot <= 0), np.sum(boot >= 0))
    p_value = 1.0 if not np.any(diff) else float(min(1.0, 2 * (1 + far_side) / (resamples + 1)))
    return PairedResult(observed, float(low), float(high), p_value, n, seeds)
