"""sweep.py

`run_sweep`: the whole of ``mmbind ablate`` as one call -- load and resolve the sweep (all errors before
anything runs), prepare the data, run what is not done, then tabulate whatever has been evaluated into
``OUTPUT/results.{md,csv,json,png}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console

from mmbind.ablate.chart import write_chart, write_tokens_chart
from mmbind.ablate.execute import SweepExecutor, SweepOutcome
from mmbind.ablate.plan import SweepPlan, plan_sweep
from mmbind.ablate.report import write_reports
from mmbind.ablate.results import ResultTable, collect
from mmbind.ablate.runner import Runner
from mmbind.ablate.schema import Sweep, load_sweep
from mmbind.errors import SweepError
from mmbind.recipe.validation_errors import format_validation_error
from mmbind.registry import Registry


@dataclass
class SweepReport:
    """What `run_sweep` did and wrote."""

    plan: SweepPlan  # the resolved sweep
    outcome: SweepOutcome  # runs trained, resumed, evaluated, skipped; done or interrupted
    table: ResultTable  # the collected results
    files: dict[str, Path]  # markdown, csv, json, png -> path


def load_plan(
    path: str | Path, output: str | Path | None = None, overrides: Iterable[str] = (),
    registry: Registry | None = None, seeds: Sequence[int] | None = None, fresh: bool = False,
) -> SweepPlan:
    """Read the sweep file and resolve every (variant, seed); ``seeds`` replaces the file's seeds;
    ``fresh``: every run is new (the sweep folder is about to be replaced; nothing in it is read)."""
    sweep = load_sweep(path)
    if seeds is not None:
        try:
            sweep = Sweep.model_validate({**sweep.model_dump(), "seeds": list(seeds)})
        except ValidationError as exc:
            raise SweepError(f"--seeds: {format_validation_error(exc)}") from None
    return plan_sweep(sweep, path, output, overrides, registry, fresh)


def tabulate(plan: SweepPlan, allow_mixed_numerics: bool = False) -> tuple[ResultTable, dict[str, Path]]:
    """Collect the evaluated runs and write the Markdown, CSV, JSON and PNG results (``allow_mixed_numerics``:
    compare runs of different numerics rather than refuse)."""
    table = collect(plan, allow_mixed_numerics)
    files = write_reports(table, plan.output)
    files["png"] = write_chart(table, plan.output / "results.png")
    chart = plan.sweep.tokens_chart
    if chart is not None and table.metrics:
        metric = next((m for m in table.metrics if m.key == chart.metric), table.metrics[0])
        series = {name: spec.series for name, spec in plan.sweep.variants.items()}
        drawn = write_tokens_chart(table, series, chart.modality, metric, plan.output / "results_tokens.png")
        if drawn is not None:
            files["tokens_png"] = drawn
    return table, files


def run_sweep(
    path: str | Path, output: str | Path | None = None, overrides: Iterable[str] = (),
    runner: Runner | None = None, console: Console | None = None, registry: Registry | None = None,
) -> SweepReport:
    """Resolve, run and tabulate the sweep at ``path`` (``runner``: the real one by default)."""
    plan = load_plan(path, output, overrides, registry)
    outcome = SweepExecutor(runner, console).execute(plan)
    table, files = tabulate(plan)
    return SweepReport(plan, outcome, table, files)
