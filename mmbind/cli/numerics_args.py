"""numerics_args.py

``--reproducible`` of ``train``, ``eval``, ``ablate`` and ``demo``: the reproducible numerics mode
(`mmbind.numerics`). The process is pinned as soon as the command line is parsed, before anything imports
torch; a recipe that asks for the mode itself (``numerics.reproducible: true``) is found only once torch
may have started, so the command is then executed again with the environment set (the command line's own
process only: ``args.reexec``).
"""

from __future__ import annotations

import argparse
from typing import Any

REPRODUCIBLE_OVERRIDE = "numerics.reproducible=true"


def add_reproducible_arg(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``--reproducible`` (``what``: what it applies to, for the help)."""
    parser.add_argument("--reproducible", action="store_true",
                        help=f"reproducible numerics: {what} the same bits on any x86-64 machine (portable "
                             "kernels, pinned threads, deterministic algorithms; slower)")


def pin_early(args: argparse.Namespace) -> None:
    """Pin this process now when ``--reproducible`` was given (1 thread; a recipe asking for another count
    re-pins it through `pin_for`)."""
    if getattr(args, "reproducible", False):
        from mmbind.numerics import ensure_pinned

        ensure_pinned(1, reexec=getattr(args, "reexec", False), who="--reproducible")


def pin_for(numerics: Any, args: argparse.Namespace, who: str) -> None:
    """Pin this process to a recipe's ``numerics`` section when it asks for the reproducible mode."""
    if numerics is not None and numerics.reproducible:
        from mmbind.numerics import ensure_pinned

        ensure_pinned(numerics.threads, reexec=getattr(args, "reexec", False), who=who)
