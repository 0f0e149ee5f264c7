"""paths.py

Finding recipe files: a path as given, else a recipe bundled with the package (``mmbind/recipes``, package
data read through `importlib.resources`): ``tiny/video_llava`` -> ``<mmbind>/recipes/tiny/video_llava.yaml``.

Bundled recipes are plain files of the installed package, so ``base:`` paths inside them resolve next to
them as in any other recipe, and a ``base:`` with no such file names a bundled recipe (see `loader.py`);
data paths inside a recipe stay relative to the working directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mmbind.errors import RecipeError

RECIPE_SUFFIX = ".yaml"


def bundled_recipes_dir() -> Path:
    """The folder of recipes shipped inside the installed ``mmbind`` package."""
    root = resources.files("mmbind").joinpath("recipes")
    if not isinstance(root, Path):  # e.g. a zip import: recipes with ``base:`` need real files
        raise RecipeError(f"{root}: bundled recipes need mmbind installed as files, not inside an archive")
    return root


def bundled_recipe_names() -> list[str]:
    """Names of the bundled recipes (``tiny/train``, ``video_llava_7b``...), in the order of their sorted
    paths; ``bundled_recipes_dir() / f"{name}{RECIPE_SUFFIX}"`` is each one's file."""
    root = bundled_recipes_dir()
    return [p.relative_to(root).with_suffix("").as_posix() for p in sorted(root.rglob(f"*{RECIPE_SUFFIX}"))]


def bundled_recipe_path(name: str | Path) -> Path | None:
    """The bundled recipe called ``name`` (with or without ``.yaml``), or None when there is none."""
    path = Path(name)
    if not path.name:  # "", ".", "/": no recipe's name
        return None
    root = bundled_recipes_dir()
    for candidate in (root / path, root / path.with_suffix(RECIPE_SUFFIX)):
        if candidate.is_file():
            return candidate
    return None


def resolve_recipe_path(name: str | Path) -> Path:
    """``name`` if it is a file, else the matching bundled recipe; otherwise ``name`` unchanged (loading it
    then reports the missing file)."""
    path = Path(name)
    if path.is_file():
        return path
    return bundled_recipe_path(path) or path
