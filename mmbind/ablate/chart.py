"""chart.py

``results.png``: a grouped bar chart in the style of the Video-LLaVA paper's Figures 4 and 5 -- one group
per metric (benchmark), one bar per variant, the bar at the mean over seeds with the standard deviation
as its error bar and the mean written above it; with the sweep's ``tokens_chart``, also
``results_tokens.png``: a score against the visual tokens per item each variant spends (a line per
``series``). Drawn with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from mmbind.ablate.results import ResultTable
from mmbind.ablate.schema import MetricSpec

BAR_SPAN = 0.8  # share of a group's width taken by its bars
TICK_WIDTH = 14  # characters per line of a group's label


def write_chart(table: ResultTable, path: Path) -> Path:
    """Draw the chart into ``path``; returns it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics, variants = table.metrics, list(table.labels)
    width = BAR_SPAN / max(len(variants), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 + len(metrics) * (0.6 + 0.4 * len(variants))), 4.2))
    percent = all(m.percent for m in metrics)
    for i, variant in enumerate(variants):
        means, stds = [], []
        for metric in metrics:
            cell = table.cell(variant, metric.key)
            scale = 100.0 if metric.percent else 1.0
            means.append(cell.mean * scale)  # nan (no bar) when no seed has a value
            stds.append(cell.std * scale if cell.n else 0.0)
        xs = [g - BAR_SPAN / 2 + (i + 0.5) * width for g in range(len(metrics))]
        bars = ax.bar(xs, means, width * 0.92, yerr=stds, capsize=3, label=table.labels[variant],
                      error_kw={"elinewidth": 1})
        for bar, mean, std in zip(bars, means, stds):
            if not math.isnan(mean):
                ax.annotate(f"{mean:.1f}" if percent else f"{mean:.2f}", (bar.get_x() + bar.get_width() / 2,
                            mean + std), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=7)
    ax.set_xticks(range(len(metrics)), [textwrap.fill(m.title, TICK_WIDTH) for m in metrics], fontsize=8)
    ax.set_ylabel("score (%)" if percent else "value")
    if percent:
        ax.set_ylim(0, 105)
    seeds = len(table.seeds)
    ax.set_title(f"{table.name}: mean ± std over {seeds} seed{'s' if seeds != 1 else ''}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def write_tokens_chart(
    table: ResultTable, series: dict[str, str | None], modality: str, metric: MetricSpec, path: Path
) -> Path | None:
    """``results_tokens.png``: ``metric`` (mean ± std over seeds) against the LLM tokens one ``modality``
    item becomes, one point per variant that has both, joined by a line per ``series`` (variant -> series
    name, None: a lone point), the x axis in powers of two. None (nothing drawn) when no variant has both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scale = 100.0 if metric.percent else 1.0
    points: dict[str | None, list[tuple[int, float, float, str]]] = {}
    for variant, label in table.labels.items():
        tokens = table.tokens.get(variant, {}).get(modality)
        cell = table.cell(variant, metric.key)
        if tokens is None or cell.n == 0:
            continue
        point = (tokens, cell.mean * scale, cell.std * scale, label)
        points.setdefault(series.get(variant), []).append(point)
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, group in points.items():
        group.sort()
        xs, ys, errs = [p[0] for p in group], [p[1] for p in group], [p[2] for p in group]
        style = "-o" if name is not None else "o"
        ax.errorbar(xs, ys, yerr=errs, fmt=style, capsize=3, label=name or "other", markersize=5)
        for x, y, _, label in group:
            ax.annotate(label, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=6.5)
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"LLM tokens per {modality} (log scale)")
    ax.set_ylabel(f"{metric.title}{' (%)' if metric.percent else ''}")
    seeds = len(table.seeds)
    ax.set_title(f"{table.name}: {metric.title} against visual tokens, mean ± std over {seeds} seed"
                 f"{'s' if seeds != 1 else ''}", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
