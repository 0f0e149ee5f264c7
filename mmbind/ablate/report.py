"""report.py

The sweep's table in three forms: a rich table for the terminal and ``results.md`` (variants x metrics,
``mean ± std``, x100 for scores in [0, 1], each other variant's cell marked ``*`` when it differs
significantly from the baseline's -- the first variant -- and ``ns`` when it does not), ``results.csv``
(one row per variant and metric with mean, std, n and every seed's raw value), plus ``results.json``
with everything (the comparisons and each run's numerics included). The caption says when the runs were
trained under different numerics.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from rich.table import Table

from mmbind.ablate.compare import mark
from mmbind.ablate.results import Cell, ResultTable
from mmbind.ablate.schema import MetricSpec


def format_cell(cell: Cell, metric: MetricSpec, seeds: int) -> str:
    """``mean ± std`` (x100 for percent metrics), ``(n=K)`` when fewer than ``seeds`` seeds have a value,
    ``-`` when none has."""
    if cell.n == 0:
        return "-"
    scale, digits = (100.0, 1) if metric.percent else (1.0, 3)
    text = f"{cell.mean * scale:.{digits}f} ± {cell.std * scale:.{digits}f}"
    return text if cell.n == seeds else f"{text} (n={cell.n})"


def caption(table: ResultTable) -> str:
    """What the numbers are."""
    seeds = ", ".join(map(str, table.seeds))
    percent = " Scores x100." if any(m.percent for m in table.metrics) else ""
    text = f"Mean ± sample standard deviation over seeds {seeds}.{percent}"
    if table.comparisons:
        base = table.labels.get(table.baseline or "", table.baseline)
        text += (f" Against the baseline ({base}): * significant, ns not (p < 0.05, a paired bootstrap "
                 "resampling both seeds and questions).")
    if table.mixed_numerics:
        kinds = "; ".join(f"{i}: {t}" for i, t in table.numerics_kinds.items())
        count = len(table.numerics_kinds)
        text += (f" Mixed numerics: the runs were trained under {count} different numerics "
                 f"({kinds}); results.json says which run had which.")
    return text


def rows(table: ResultTable) -> list[list[str]]:
    """Header, then one row per variant: its label, the visual tokens per item of each modality the
    evaluations recorded (when a ``tokens_chart`` asks for them) and one formatted cell per metric."""
    modalities = sorted({m for tokens in table.tokens.values() for m in tokens}) if table.show_tokens else []
    out = [["variant", *(f"{m} tokens" for m in modalities), *(m.title for m in table.metrics)]]
    for variant, label in table.labels.items():
        counts = [str(table.tokens.get(variant, {}).get(m, "-")) for m in modalities]
        cells = [format_cell(table.cell(variant, m.key), m, len(table.seeds))
                 + mark(table.comparison(variant, m.key)) for m in table.metrics]
        out.append([label, *counts, *cells])
    return out


def rich_table(table: ResultTable) -> Table:
    """The terminal table."""
    header, *body = rows(table)
    out = Table(title=f"{table.name}: {caption(table)}", title_justify="left")
    out.add_column(header[0])
    for title in header[1:]:
        out.add_column(title, justify="right")
    for row in body:
        out.add_row(*row)
    return out


def markdown(table: ResultTable) -> str:
    """A Markdown section: heading, table, caption."""
    header, *body = rows(table)
    lines = [f"## {table.name}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    keys = "; ".join(f"{m.title} = `{m.key}`" for m in table.metrics if m.title != m.key)
    return "\n".join([*lines, "", caption(table) + (f" Metrics: {keys}." if keys else ""), ""])


def write_csv(table: ResultTable, path: Path) -> Path:
    """One row per (variant, metric): raw values, mean, std, n and each seed's value."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["variant", "label", "metric", "metric_label", "n", "mean", "std",
                         *(f"seed_{s}" for s in table.seeds)])
        for variant, label in table.labels.items():
            for metric in table.metrics:
                cell = table.cell(variant, metric.key)
                per_seed = table.values.get(variant, {}).get(metric.key, {})
                writer.writerow([variant, label, metric.key, metric.title, cell.n, _num(cell.mean),
                                 _num(cell.std), *(_num(per_seed.get(s, math.nan)) for s in table.seeds)])
    return path


def _num(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


def write_reports(table: ResultTable, out: Path) -> dict[str, Path]:
    """``results.md``, ``results.csv`` and ``results.json`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text(markdown(table), encoding="utf-8")
    (out / "results.json").write_text(json.dumps(table.to_json(), indent=1) + "\n", encoding="utf-8")
    return {"markdown": out / "results.md", "csv": write_csv(table, out / "results.csv"),
            "json": out / "results.json"}
