"""config_memo.py

Checks of transformers configs that passed, remembered across processes: building any transformers config
imports torch, torchvision and most of transformers (seconds per process), so a recipe whose configs were
checked before loads without importing transformers at all.

A passed check is an empty file named by the hash of everything that decided it: the ``subject`` (what was
checked, with the checker's own source), and the installed versions of transformers and huggingface_hub (whose
validators transformers' configs use). A failed check is never recorded: its error always comes from the
check itself. A subject that is not plain JSON (non-string keys, other types) is always checked. The files
live in ``$MMBIND_CACHE_DIR/hf_configs`` (default ``$XDG_CACHE_HOME/mmbind``, else ``~/.cache/mmbind``); a
folder that cannot be written only costs the next load its speed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

LIBRARIES = ("transformers", "huggingface_hub")


def cache_dir() -> Path:
    """mmbind's cache folder: ``$MMBIND_CACHE_DIR``, else ``$XDG_CACHE_HOME/mmbind``, else
    ``~/.cache/mmbind``."""
    if os.environ.get("MMBIND_CACHE_DIR"):
        return Path(os.environ["MMBIND_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mmbind"


def check_once(subject: Mapping[str, Any], check: Callable[[], object]) -> None:
    """Run ``check()`` (which raises when ``subject`` is wrong) unless it passed before for this subject and
    these library versions; remember that it passed."""
    marker = _marker(subject)
    if marker is not None and marker.is_file():
        return
    check()
    if marker is not None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass


def _marker(subject: Mapping[str, Any]) -> Path | None:
    if not _plain(subject):
        return None
    try:
        versions = {name: metadata.version(name) for name in LIBRARIES}
    except metadata.PackageNotFoundError:
        return None
    text = json.dumps({"subject": subject, "versions": versions}, sort_keys=True, allow_nan=False)
    return cache_dir() / "hf_configs" / hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> bool:
    """JSON that maps back to exactly this value (string keys, no tuples, NaN or other types)."""
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False
