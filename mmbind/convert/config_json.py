"""config_json.py

`read_config_json`: the ``config.json`` of a checkpoint directory to convert, parsed, with the converters'
shared errors (not a directory, no ``config.json``, not valid JSON) as `ConversionError`s. Each converter
then checks the ``model_type`` it expects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmbind.errors import ConversionError
from mmbind.json_file import read_json


def read_config_json(src: Path, expected: str, kind: str) -> tuple[Path, Any]:
    """(path, parsed content) of ``src/config.json``.

    Errors name the checkpoint: ``{src}: not a directory (expected <expected>)``,
    ``{src}: not <kind> (config.json is missing)``.
    """
    if not src.is_dir():
        raise ConversionError(f"{src}: not a directory (expected {expected})")
    path = src / "config.json"
    if not path.is_file():
        raise ConversionError(f"{src}: not {kind} (config.json is missing)")
    return path, read_json(path, ConversionError)
