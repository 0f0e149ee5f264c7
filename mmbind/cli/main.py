"""main.py

Entry point of the ``mmbind`` command: builds the argument parser from the command modules and turns
every `MmbindError` into one message on stderr (no traceback) and a non-zero exit status. Output folders
are checked before a command runs (`mmbind.cli.argtypes`), and a write of them that fails (a full disk, a
name too long) is one `WriteError` (`mmbind.output_files`); ``--reproducible`` pins the numerics before
anything imports torch (`mmbind.cli.numerics_args`); a closed stdout pipe ends the command quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from mmbind.cli.argtypes import check_outputs, output_paths
from mmbind.cli.console import print_error
from mmbind.cli.numerics_args import pin_early
from mmbind.errors import MmbindError
from mmbind.output_files import as_write_error

# Command modules, each with register(subparsers) that sets `func` (args -> int exit status).
COMMAND_MODULES = (
    "mmbind.cli.plugins_cmd",
    "mmbind.cli.recipe_cmd",
    "mmbind.cli.convert_cmd",
    "mmbind.cli.demo_cmd",
    "mmbind.cli.train_cmd",
    "mmbind.cli.data_cmd",
    "mmbind.cli.eval_cmd",
    "mmbind.cli.chat_cmd",
    "mmbind.cli.ablate_cmd",
    "mmbind.cli.serve_cmd",
    "mmbind.cli.infer_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="mmbind", description="Compose vision-language models from recipes."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns (and, as a script, exits with) the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.reexec = argv is None  # the command line's own process may execute itself again (numerics_args)
    try:
        check_outputs(args)
        pin_early(args)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except MmbindError as exc:
        print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except OSError as exc:  # a write of the command's output failed: one message naming it and why
        error = as_write_error(exc, output_paths(args))
        if error is None:
            raise
        print_error(str(error))
        return error.exit_code


def _closed_pipe() -> int:
    """The reader of stdout went away (``mmbind plugins --json | head``): stop quietly, as a Unix tool does.
    stdout is pointed at devnull so Python's own flush at exit does not fail again (Python's signal docs)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + 13  # killed by SIGPIPE, the status a shell reports for such a writer


if __name__ == "__main__":
    sys.exit(main())
