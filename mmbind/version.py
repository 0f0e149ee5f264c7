"""version.py

mmbind's version (public as ``mmbind.__version__``; the same as pyproject.toml's), recorded with what a
command writes (e.g. an evaluation's predictions).
"""

from __future__ import annotations

__version__ = "0.1.0"
