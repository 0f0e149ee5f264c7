"""results.py

From evaluated runs to the sweep's table: each metric (``SET.path`` into a result's ``metrics``; ``*``
averages over that level) is read from every run's ``RUN/eval/<set>.json``, then summarised per variant as
mean and sample standard deviation (n - 1 in the denominator; 0 for a single seed) over the seeds that
have a value. Runs not evaluated yet simply contribute nothing, so a partial sweep still tabulates.
Each variant is then compared with the first (the baseline), paired over seeds and questions
(`compare.py`), and the table records which differences are significant. Each run's numerics fingerprint is
read too: runs of different numerics are not paired unless asked (`numerics_check.py`), and the table says
when its runs' numerics are mixed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mmbind.ablate.compare import Comparison, QuestionScores, compare_variant, question_scores
from mmbind.ablate.numerics_check import RunNumerics, check_pairs, run_numerics
from mmbind.ablate.plan import SweepPlan
from mmbind.ablate.schema import MetricSpec
from mmbind.ablate.state import result_files
from mmbind.errors import SweepError


@dataclass(frozen=True)
class Cell:
    """One variant's values of one metric, one per seed that has it."""

    values: tuple[float, ...]  # in seed order

    @property
    def n(self) -> int:
        """Seeds with a value."""
        return len(self.values)

    @property
    def mean(self) -> float:
        """Arithmetic mean (nan without values)."""
        return sum(self.values) / self.n if self.n else math.nan

    @property
    def std(self) -> float:
        """Sample standard deviation (0 for one value, nan for none)."""
        if self.n < 2:
            return 0.0 if self.n else math.nan
        mean = self.mean
        return math.sqrt(sum((v - mean) ** 2 for v in self.values) / (self.n - 1))


@dataclass
class ResultTable:
    """Per-seed values and their summary, variants x metrics."""

    name: str  # the sweep's name
    seeds: list[int]  # the sweep's seeds
    labels: dict[str, str]  # variant key -> label, in order
    metrics: list[MetricSpec]  # the columns, in order
    values: dict[str, dict[str, dict[int, float]]] = field(default_factory=dict)  # variant/key/seed -> v
    questions: dict[str, dict[str, dict[int, QuestionScores]]] = field(default_factory=dict)  # v/key/seed
    comparisons: dict[str, dict[str, Comparison]] = field(default_factory=dict)  # variant/key -> vs baseline
    tokens: dict[str, dict[str, int]] = field(default_factory=dict)  # variant -> modality -> tokens per item
    show_tokens: bool = False  # the tables list the tokens per item (the sweep has a tokens_chart)
    numerics: dict[str, dict[int, RunNumerics]] = field(default_factory=dict)  # variant -> seed -> numerics
    allow_mixed_numerics: bool = False  # pair runs of different numerics anyway

    @property
    def numerics_kinds(self) -> dict[str, str]:
        """Numerics id -> its description, over the evaluated runs."""
        return {n.id: n.text for seeds in self.numerics.values() for n in seeds.values()}

    @property
    def mixed_numerics(self) -> bool:
        """Whether the evaluated runs were trained (or evaluated) under more than one numerics."""
        return len(self.numerics_kinds) > 1

    @property
    def baseline(self) -> str | None:
        """The first variant, which every other is compared with."""
        return next(iter(self.labels), None)

    def compare(self) -> None:
        """Compare every other variant with the baseline, metric by metric."""
        base = self.baseline
        self.comparisons = {}
        self._check_numerics()
        for variant in self.labels:
            if variant == base or base is None:
                continue
            for metric in self.metrics:
                values = {v: self.values.get(v, {}).get(metric.key, {}) for v in (variant, base)}
                per_q = {v: self.questions.get(v, {}).get(metric.key, {}) for v in (variant, base)}
                found = compare_variant(variant, base, metric, self.seeds, values, per_q)
                if found is not None:
                    self.comparisons.setdefault(variant, {})[metric.key] = found

    def _check_numerics(self) -> None:
        """Refuse to pair runs of different numerics (unless allowed): every seed a variant shares with
        the baseline is a pair."""
        base = self.baseline
        pairs = []
        for variant in self.labels:
            if variant == base or base is None:
                continue
            mine, theirs = self.numerics.get(variant, {}), self.numerics.get(base, {})
            pairs += [(f"{variant}/seed{s}", f"{base}/seed{s}", mine[s], theirs[s])
                      for s in self.seeds if s in mine and s in theirs]
        check_pairs(pairs, self.allow_mixed_numerics)

    def comparison(self, variant: str, key: str) -> Comparison | None:
        """``variant`` against the baseline on ``key``, if compared."""
        return self.comparisons.get(variant, {}).get(key)

    def cell(self, variant: str, key: str) -> Cell:
        """The values of ``key`` for ``variant`` over the seeds."""
        per_seed = self.values.get(variant, {}).get(key, {})
        return Cell(tuple(per_seed[s] for s in self.seeds if s in per_seed))

    def to_json(self) -> dict[str, Any]:
        """Everything, JSON-able: per-seed values and mean / std / n per variant and metric."""
        summary = {v: {m.key: {"mean": _finite(c.mean), "std": _finite(c.std), "n": c.n} for m in self.metrics
                       for c in [self.cell(v, m.key)]} for v in self.labels}
        return {"sweep": self.name, "seeds": self.seeds, "variants": self.labels,
                "metrics": [m.model_dump(mode="json") for m in self.metrics],
                "values": {v: {k: {str(s): x for s, x in seeds.items()} for k, seeds in keys.items()}
                           for v, keys in self.values.items()},
                "summary": summary, "baseline": self.baseline, "visual_tokens": self.tokens,
                "comparisons": {v: {k: c.to_json() for k, c in keys.items()}
                                for v, keys in self.comparisons.items()},
                "numerics": {v: {str(s): n.id for s, n in seeds.items()}
                             for v, seeds in self.numerics.items()},
                "numerics_kinds": self.numerics_kinds, "mixed_numerics": self.mixed_numerics}


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def metric_value(metrics: Any, path: Sequence[str], where: str) -> float:
    """The number at ``path`` in a result's ``metrics`` (``*``: mean over every entry at that level)."""
    if not path:
        if isinstance(metrics, bool) or not isinstance(metrics, (int, float)):
            raise SweepError(f"{where}: not a number but {type(metrics).__name__}")
        return float(metrics)
    if not isinstance(metrics, dict):
        raise SweepError(f"{where}: {path[0]!r} cannot be looked up in a {type(metrics).__name__}")
    head, rest = path[0], path[1:]
    if head == "*":
        parts = [metric_value(v, rest, f"{where}.{k}") for k, v in metrics.items()]
        if not parts:
            raise SweepError(f"{where}: '*' found nothing to average")
        return sum(parts) / len(parts)
    if head not in metrics:
        raise SweepError(f"{where}: no {head!r} here (there are: {', '.join(map(str, metrics))})")
    return metric_value(metrics[head], rest, f"{where}.{head}")


def default_metrics(kinds: dict[str, str]) -> list[MetricSpec]:
    """Without ``metrics:``: each set's headline -- open sets' overall accuracy, POPE sets' accuracy averaged
    over the negative-sampling splits (chance: 0.5, which a model answering always "yes" also gets; its F1
    would be 0.67) (``kinds``: set name -> open|pope, in order)."""
    out = []
    for name, kind in kinds.items():
        if kind == "open":
            out.append(MetricSpec(key=f"{name}.overall.accuracy", label=f"{name} accuracy"))
        elif kind == "pope":
            out.append(MetricSpec(key=f"{name}.*.accuracy", label=f"{name} accuracy"))
    return out


def _read(path: Any) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SweepError(f"{path}: unreadable eval result ({exc}); delete it and rerun the sweep") from None


def collect(plan: SweepPlan, allow_mixed_numerics: bool = False) -> ResultTable:
    """Read every evaluated run's results into a `ResultTable`; `NumericsError` when a comparison would pair
    runs of different numerics and ``allow_mixed_numerics`` is not given."""
    results: dict[tuple[str, int], dict[str, dict[str, Any]]] = {}
    kinds: dict[str, str] = {}
    for run in plan.runs:
        files = result_files(run.run_dir)
        results[(run.variant, run.seed)] = {name: _read(path) for name, path in files.items()}
        for name, result in results[(run.variant, run.seed)].items():
            kinds.setdefault(name, str(result.get("kind")))
    metrics = plan.metrics if plan.metrics is not None else default_metrics(kinds)
    table = ResultTable(plan.sweep.name, list(plan.sweep.seeds), dict(plan.labels), metrics)
    table.show_tokens = plan.sweep.tokens_chart is not None
    table.allow_mixed_numerics = allow_mixed_numerics
    for run in plan.runs:
        if results[(run.variant, run.seed)]:
            table.numerics.setdefault(run.variant, {})[run.seed] = run_numerics(run.run_dir)
    for (variant, seed), sets in results.items():
        for metric in metrics:
            if metric.set_name not in sets:
                continue
            where = f"{plan.output / variant / f'seed{seed}'}: metric {metric.key}: {metric.set_name}"
            value = metric_value(sets[metric.set_name].get("metrics"), metric.path, where)
            table.values.setdefault(variant, {}).setdefault(metric.key, {})[seed] = value
            tokens = sets[metric.set_name].get("visual_tokens")
            if isinstance(tokens, dict) and variant not in table.tokens:
                table.tokens[variant] = {str(k): int(v) for k, v in tokens.items()}
            per_question = question_scores(metric, sets[metric.set_name])
            if per_question is not None:
                table.questions.setdefault(variant, {}).setdefault(metric.key, {})[seed] = per_question
    table.compare()
    return table
