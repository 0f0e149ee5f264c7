"""mmbind.recipe

Recipes: YAML files validated by pydantic that compose a model from plugin parts. See `schema.py` for the
shape and `loader.py` for ``base:`` inheritance and ``KEY=VALUE`` overrides.
"""

from mmbind.recipe.loader import load_recipe, recipe_from_dict
from mmbind.recipe.schema import EncoderSpec, LLMSpec, ModelSpec, ProjectorSpec, Recipe

__all__ = [
    "EncoderSpec", "LLMSpec", "ModelSpec", "ProjectorSpec", "Recipe", "load_recipe", "recipe_from_dict",
]
