"""loader.py

Loading recipes: safe YAML, ``base:`` inheritance (a file relative to the recipe, else a bundled recipe's
name such as ``tiny/train``), dotted overrides, pydantic validation of the recipe, then of each part's
plugin options (`part_options.py`), of each ``data.media`` key's media loader options
(`media_options.py`), of the stages against each other (`stage_checks.py`), of the trackers named in
``report_to`` (`trackers.py`: known, and installed) and of the libraries reading shards
(`shard_support.py`). Every failure is a `RecipeError` (or a `PluginError`) whose message names the file,
the field path and what was expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mmbind.errors import MmbindError, RecipeError
from mmbind.recipe.media_options import check_media_options
from mmbind.recipe.merge import apply_override, deep_merge
from mmbind.recipe.part_options import validate_parts
from mmbind.recipe.paths import RECIPE_SUFFIX, bundled_recipe_names, bundled_recipe_path, resolve_recipe_path
from mmbind.recipe.schema import Recipe
from mmbind.recipe.shard_support import check_shards_installed
from mmbind.recipe.stage_checks import check_stage_kinds
from mmbind.recipe.trackers import check_trackers_installed
from mmbind.recipe.unique_yaml import safe_load_unique
from mmbind.recipe.validation_errors import format_validation_error
from mmbind.registry import Registry, default_registry


def load_recipe(
    path: str | Path, overrides: Iterable[str] = (), registry: Registry | None = None
) -> Recipe:
    """Load, merge, override and validate the recipe at ``path`` (a file, or a bundled recipe's name such as
    ``tiny/video_llava``)."""
    path = resolve_recipe_path(path)
    data = _read_with_bases(path, chain=())
    for override in overrides:
        data = apply_override(data, override)
    return recipe_from_dict(data, source=str(path), registry=registry)


def recipe_from_dict(
    data: dict[str, Any], source: str = "<recipe>", registry: Registry | None = None
) -> Recipe:
    """Validate a recipe mapping; plugin options are normalised to their schema's full form."""
    registry = registry or default_registry()
    try:
        recipe = Recipe.model_validate(data, context={"registry": registry})  # stage kinds: `stage_kinds.py`
    except ValidationError as exc:
        raise RecipeError(f"{source}: invalid recipe: {format_validation_error(exc)}") from None
    validate_parts(recipe, source, registry)
    check_media_options(recipe.data, source, registry)
    check_stage_kinds(recipe, source, registry)
    _check_stage_datasets(recipe, source)
    check_trackers_installed(recipe.report_to, source)
    check_shards_installed(recipe.data, source)
    return recipe


def _check_stage_datasets(recipe: Recipe, source: str) -> None:
    """Every stage's dataset exists, before any stage trains (not when a later stage starts)."""
    if recipe.data is None:
        return
    for name, stage in (recipe.stages or {}).items():
        try:
            recipe.data.dataset_for(name, stage.dataset)
        except RecipeError as exc:
            raise RecipeError(f"{source}: {exc}") from None
    known = list(recipe.model.encoders)
    for name, dataset in recipe.data.datasets.items():
        for i, modality in enumerate(dataset.modalities or []):
            if modality not in known:
                raise RecipeError(f"{source}: data.datasets.{name}.modalities.{i}: {modality!r} is not a "
                                  f"modality of the model's encoders ({', '.join(known)})")


def _read_with_bases(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise RecipeError(f"{path}: base recipes form a cycle: {cycle}")
    data = read_yaml_mapping(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base.strip():
        raise RecipeError(f"{path}: base: expected a path to another recipe or a bundled recipe's name, "
                          f"got {base!r}")
    return deep_merge(_read_with_bases(_resolve_base(path, base), (*chain, resolved)), data)


def _resolve_base(recipe: Path, base: str) -> Path:
    """The file that ``base:`` in ``recipe`` names: a path relative to ``recipe``'s folder (or absolute)
    that exists wins, else the bundled recipe of that name (``tiny/train``, ``.yaml`` optional). Neither
    raises a `RecipeError` naming ``recipe`` and ``base`` with the bundled names closest to it."""
    local = Path(base) if Path(base).is_absolute() else recipe.parent / base
    if local.is_file():
        return local
    bundled = bundled_recipe_path(base)
    if bundled is not None:
        return bundled
    names = bundled_recipe_names()
    wanted = base.removesuffix(RECIPE_SUFFIX)
    close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.8)
    hint = ("did you mean " + " or ".join(f"'{c}'" for c in close) + "?") if close else \
        f"bundled recipes: {', '.join(names)}"
    raise RecipeError(f"{recipe}: base: '{base}' is neither a file (relative to this recipe) nor a bundled "
                      f"recipe; {hint}")


def read_yaml_mapping(
    path: Path, kind: str = "recipe", error: type[MmbindError] = RecipeError
) -> dict[str, Any]:
    """A YAML file (loaded safely) that must hold a mapping; problems raise ``error`` naming ``path``."""
    if not path.is_file():
        raise error(f"{path}: {kind} file not found")
    try:
        data = safe_load_unique(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{path}: not valid YAML{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise error(f"{path}: a {kind} must be a mapping at the top level, got {type(data).__name__}")
    return data
