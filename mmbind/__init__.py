"""mmbind

Compose vision-language models the way Video-LLaVA does: language-aligned encoders, one shared projector
and a causal LLM, assembled from a YAML recipe out of plugin parts.

    import mmbind
    recipe = mmbind.load_recipe("tiny/video_llava", overrides=["model.seed=0"])  # bundled name or path
    model = mmbind.build_model(recipe)
    model.save_pretrained("out/")
    model = mmbind.load_pretrained("out/")
"""

from mmbind.errors import (
    CheckpointError,
    ConversionError,
    DataError,
    DuplicatePluginError,
    InputError,
    MediaError,
    MmbindError,
    PluginError,
    PluginOptionsError,
    RecipeError,
    UnknownPluginError,
)
from mmbind.hookspecs import hookimpl
from mmbind.model import MultimodalLM, MultimodalOutput, build_model, load_pretrained, summarize
from mmbind.recipe import Recipe, load_recipe, recipe_from_dict
from mmbind.registry import EncoderEntry, LLMEntry, ProjectorEntry, Registry, default_registry, load_registry

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "ConversionError",
    "DataError",
    "DuplicatePluginError",
    "EncoderEntry",
    "InputError",
    "LLMEntry",
    "MediaError",
    "MmbindError",
    "MultimodalLM",
    "MultimodalOutput",
    "PluginError",
    "PluginOptionsError",
    "ProjectorEntry",
    "Recipe",
    "RecipeError",
    "Registry",
    "UnknownPluginError",
    "build_model",
    "default_registry",
    "hookimpl",
    "load_pretrained",
    "load_recipe",
    "load_registry",
    "recipe_from_dict",
    "summarize",
]
