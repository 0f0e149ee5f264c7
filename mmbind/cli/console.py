"""console.py

Shared rich consoles for the CLI: results on stdout, errors on stderr; a closed pipe is left to `main`.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape


class _Console(Console):
    """A rich console whose closed pipe ends the command through `mmbind.cli.main` (rich would exit 1)."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


stdout = _Console(highlight=False)
stderr = _Console(stderr=True, highlight=False)


def print_error(message: str) -> None:
    """One error line on stderr, without a traceback."""
    stderr.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
