"""mmbind_cli.py

The ``mmbind`` command the start-up benchmarks time: the console script of the running interpreter's
environment, and the environment it runs in (``HF_HUB_OFFLINE=1``: nothing is looked up online).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def mmbind_command() -> list[str]:
    """The ``mmbind`` script next to this interpreter, else ``python -m mmbind``."""
    script = Path(sys.executable).with_name("mmbind")
    if script.is_file():
        return [str(script)]
    found = shutil.which("mmbind")
    return [found] if found else [sys.executable, "-m", "mmbind"]


def command_env() -> dict[str, str]:
    """This process's environment, offline."""
    return {**os.environ, "HF_HUB_OFFLINE": "1"}
