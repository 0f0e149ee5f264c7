"""report.py

Evaluation results for people and for programs: `result_table`, one rich table per set's result -- the
study's point scores (open questions: accuracy by type; POPE: scores by split) or a benchmark's scores with
their 95% intervals (and, judged, `verdicts_line`: where the verdicts came from) -- and `summary`, one
JSON-able object with every study set's metrics (what ``mmbind eval --json`` prints).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

from mmbind.inference.target import Target


def result_table(result: dict[str, Any]) -> Table:
    """The table of one set's result: with intervals when it has them (a benchmark's), else points."""
    if "scorer" in result:
        return _interval_table(result)
    return _open_table(result) if result["kind"] == "open" else _pope_table(result)


def verdicts_line(counts: dict[str, int]) -> str:
    """Where this run's verdicts came from, as printed under the table."""
    line = (f"judge verdicts: {counts['from_cache']} from the cache, {counts['asked']} asked now, "
            f"{counts['invalid']} invalid")
    return line + (" (not cached: the next run asks again)" if counts["invalid"] else "")


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


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _ci(ci: Any) -> str:
    return "-" if not ci else f"[{_pct(ci[0])}, {_pct(ci[1])}]"


def _open_table(result: dict[str, Any]) -> Table:
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


def _pope_table(result: dict[str, Any]) -> Table:
    """POPE scores by negative-sampling split."""
    table = Table(title=f"{result['set']}: POPE ({result['samples']} probes)", title_justify="left")
    table.add_column("split")
    for name in ("accuracy %", "precision %", "recall %", "F1 %", "yes %", "n"):
        table.add_column(name, justify="right")
    for split, row in result["metrics"].items():
        table.add_row(split, *(_pct(row[k]) for k in ("accuracy", "precision", "recall", "f1", "yes_ratio")),
                      str(row["n"]))
    return table


def _interval_table(result: dict[str, Any]) -> Table:
    """A benchmark's scores with their 95% intervals."""
    scorer = result["scorer"]
    title = (f"{result['benchmark']}: {result['answered']}/{result['questions']} answered; "
             f"scored by {scorer['label']}")
    table = Table(title=title, title_justify="left")
    for name in ("score", "value", "95% CI", "n"):
        table.add_column(name, justify="left" if name == "score" else "right")
    metrics = result["metrics"]
    if result["kind"] == "pope":
        for split, row in metrics["splits"].items():
            n = str(row["n"])
            table.add_row(f"{split} accuracy %", _pct(row["accuracy"]), _ci(row["accuracy_ci95"]), n)
            table.add_row(f"{split} F1 %", _pct(row["f1"]), _ci(row["f1_ci95"]), "")
            rates = f"{_pct(row['precision'])} / {_pct(row['recall'])} / {_pct(row['yes_ratio'])}"
            table.add_row(f"{split} precision / recall / yes %", rates, "", "")
        return table
    acc = metrics["accuracy"]
    table.add_row("accuracy %", _pct(acc["value"]), _ci(acc["ci95"]), str(acc["n"]))
    if "score" in metrics:
        score = metrics["score"]
        ci = "-" if not score["ci95"] else f"[{score['ci95'][0]:.2f}, {score['ci95'][1]:.2f}]"
        table.add_row("score (0-5)", "-" if score["value"] is None else f"{score['value']:.2f}", ci,
                      str(score["n"]))
        table.add_row("invalid verdicts", str(metrics["invalid"]), "", "")
    for group, row in (metrics.get("by_group") or {}).items():
        table.add_row(f"  {group} %", _pct(row["value"]), _ci(row["ci95"]), str(row["n"]))
    return table
