"""json_file.py

`read_json`: parse a JSON file that a user supplied (dataset, manifest, eval set, checkpoint config) and
raise the caller's typed error, naming the file, when its text is not valid JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmbind.errors import MmbindError


def read_json(path: Path, error: type[MmbindError]) -> Any:
    """The parsed content of ``path``; invalid JSON or text -> ``error("<path>: not valid JSON (...)")``."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not valid JSON (not UTF-8 text: {exc.reason})") from None
