"""plugins_cmd.py

``mmbind plugins [--json]``: the installed plugin contributions, as a rich table or a JSON array.
"""

from __future__ import annotations

import argparse
import json

from mmbind.cli.console import stdout

_STATUS_STYLE = {"ok": "green", "duplicate": "yellow", "failed": "red"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("plugins", help="list installed encoders, projectors and LLM backends")
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from mmbind.registry import load_registry

    records = load_registry().records  # imports every plugin, to report its status
    if args.json:
        print(json.dumps([r.as_dict() for r in records], indent=2))
        return 0
    table = Table(title="mmbind plugins")
    for column in ("kind", "name", "source", "status", "description / reason"):
        table.add_column(column)
    for record in sorted(records, key=lambda r: (r.kind, r.name)):
        style = _STATUS_STYLE.get(record.status, "")
        detail = record.reason or getattr(record.entry, "description", "")
        table.add_row(record.kind, record.name, record.source, f"[{style}]{record.status}[/]", detail)
    stdout.print(table)
    return 0
