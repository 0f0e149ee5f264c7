"""chart.py

``results.png``: a grouped bar chart in the style of the Video-LLaVA paper's Figures 4 and 5 -- one group
per metric (benchmark), one bar per variant, the bar at the mean over seeds with the standard deviation
as its error bar and the mean written above it. Drawn with matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from mmbind.ablate.results import ResultTable

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
