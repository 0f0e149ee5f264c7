"""report.py

Evaluation results for people (rich tables: open-question accuracy by type, POPE scores by split) and for
programs (`summary`: one JSON-able object with every set's metrics, what ``mmbind eval --json`` prints).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from mmbind.inference.target import Target


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def open_table(result: dict[str, Any]) -> Table:
    """Accuracy by question type, then overall."""
    table = Table(title=f"{result['set']}: open questions ({result['samples']})", title_justify="left")
    for name, justify in (("type", "left"), ("accuracy %", "right"), ("correct", "right"), ("n", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    metrics = result["metrics"]
    for kind, row in metrics["by_type"].items():
        table.add_row(kind, _pct(row["accuracy"]), str(row["correct"]), str(row["n"]))
    overall = metrics["overall"]
    accuracy = _pct(overall["accuracy"])
    table.add_row("[bold]overall", f"[bold]{accuracy}", str(overall["correct"]), str(overall["n"]))
    return table


def pope_table(result: dict[str, Any]) -> Table:
    """POPE scores by negative-sampling split."""
    table = Table(title=f"{result['set']}: POPE ({result['samples']} probes)", title_justify="left")
    table.add_column("split")
    for name in ("accuracy %", "precision %", "recall %", "F1 %", "yes %", "n"):
        table.add_column(name, justify="right")
    for split, row in result["metrics"].items():
        table.add_row(split, *(_pct(row[k]) for k in ("accuracy", "precision", "recall", "f1", "yes_ratio")),
                      str(row["n"]))
    return table


def result_table(result: dict[str, Any]) -> Table:
    """The table for one set's result."""
    return open_table(result) if result["kind"] == "open" else pope_table(result)


def summary(
    target: Target, results: dict[str, dict[str, Any]], skipped: list[str] | None = None
) -> dict[str, Any]:
    """Model, stage, every set's metrics and result file, and the sets skipped (no encoder for them)."""
    return {
        "model": str(target.model_dir), "run": str(target.run_dir) if target.run_dir else None,
        "stage": target.stage,
        "sets": {name: {"kind": r["kind"], "modality": r["modality"], "samples": r["samples"],
                        "metrics": r["metrics"], "path": r.get("path")} for name, r in results.items()},
        "skipped": list(skipped or []),
    }
