"""paths.py

Finding recipe files: a path as given, else a name under the project's ``recipes/`` folder
(``tiny/video_llava`` -> ``recipes/tiny/video_llava.yaml``).
"""

from __future__ import annotations

from pathlib import Path

import mmbind

BUILTIN_RECIPES = Path(mmbind.__file__).resolve().parent.parent / "recipes"


def resolve_recipe_path(name: str | Path) -> Path:
    """``name`` if it is a file, else the matching file under ``recipes/``; otherwise ``name`` unchanged."""
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (BUILTIN_RECIPES / path, BUILTIN_RECIPES / path.with_suffix(".yaml")):
        if candidate.is_file():
            return candidate
    return path
