"""summary_view.py

Rich rendering of a model summary (part, plugin, parameters, trainable).
"""

from __future__ import annotations

from rich.table import Table

from mmbind.model import MultimodalLM, summarize


def summary_table(model: MultimodalLM, title: str = "model") -> Table:
    """One row per part plus a total row."""
    table = Table(title=title)
    table.add_column("part")
    table.add_column("plugin")
    table.add_column("parameters", justify="right")
    table.add_column("trainable", justify="right")
    rows = summarize(model)
    for row in rows:
        table.add_row(row.part, row.plugin, f"{row.parameters:,}", f"{row.trainable:,}")
    total = sum(r.parameters for r in rows)
    trainable = sum(r.trainable for r in rows)
    table.add_row("[bold]total[/]", "", f"[bold]{total:,}[/]", f"[bold]{trainable:,}[/]")
    return table
