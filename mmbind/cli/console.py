"""console.py

Shared rich consoles for the CLI: results on stdout, errors on stderr.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


def print_error(message: str) -> None:
    """One error line on stderr, without a traceback."""
    stderr.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
