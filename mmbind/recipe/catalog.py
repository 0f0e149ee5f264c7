"""catalog.py

The catalogue of bundled recipes behind ``mmbind recipe list``: each recipe's name (what ``recipe show`` and
``train`` accept), its ``name:`` field and the first line of its opening comment. Files are only read as
YAML, not validated, so listing imports no plugin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import yaml

from mmbind.recipe.paths import RECIPE_SUFFIX, bundled_recipe_names, bundled_recipes_dir

SWEEP_KEY = "variants"  # a top-level key only ablation sweeps have


@dataclass(frozen=True)
class RecipeInfo:
    """One bundled recipe."""

    recipe: str  # the name to pass on the command line, e.g. ``tiny/train``
    kind: str  # "recipe", or "sweep" for an ablation sweep (``mmbind ablate``)
    name: str  # the file's ``name:`` field ("" when absent)
    description: str  # the first line of the file's opening comment ("" when none)

    def as_dict(self) -> dict[str, str]:
        """JSON-friendly view."""
        return asdict(self)


def bundled_recipes() -> list[RecipeInfo]:
    """Every bundled recipe, sorted by name."""
    root = bundled_recipes_dir()
    infos = []
    for recipe in bundled_recipe_names():
        text = (root / f"{recipe}{RECIPE_SUFFIX}").read_text(encoding="utf-8")
        data = yaml.safe_load(text)
        data = data if isinstance(data, dict) else {}
        infos.append(RecipeInfo(
            recipe=recipe,
            kind="sweep" if SWEEP_KEY in data else "recipe",
            name=str(data.get("name") or ""),
            description=_first_comment_line(text),
        ))
    return infos


def _first_comment_line(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            return stripped.lstrip("#").strip()
        if stripped:
            return ""
    return ""
