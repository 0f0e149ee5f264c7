"""mmbind

Compose vision-language models the way Video-LLaVA does: language-aligned encoders, one shared projector
and a causal LLM, assembled from a YAML recipe out of plugin parts.

    import mmbind
    recipe = mmbind.load_recipe("tiny/video_llava", overrides=["model.seed=0"])  # bundled name or path
    model = mmbind.build_model(recipe)
    model.save_pretrained("out/")
    model = mmbind.load_pretrained("out/")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from mmbind.lazy_exports import lazy_exports
from mmbind.version import __version__ as __version__

if TYPE_CHECKING:
    from mmbind.data.media_readers import row_media
    from mmbind.model import MultimodalLM, MultimodalOutput, build_model, load_pretrained, summarize
    from mmbind.recipe import Recipe, load_recipe, recipe_from_dict
    from mmbind.recipe.merge import deep_merge
    from mmbind.registry import (
        BenchmarkEntry,
        EncoderEntry,
        LLMEntry,
        MediaLoaderEntry,
        ProjectorEntry,
        Registry,
        StageKindEntry,
        default_registry,
        load_registry,
    )

# Public names whose modules import torch, pydantic or transformers: imported on first access (PEP 562), so
# that `import mmbind` (and `mmbind --help`) stays cheap.
_LAZY = {
    "MultimodalLM": "mmbind.model",
    "MultimodalOutput": "mmbind.model",
    "build_model": "mmbind.model",
    "load_pretrained": "mmbind.model",
    "summarize": "mmbind.model",
    "Recipe": "mmbind.recipe",
    "load_recipe": "mmbind.recipe",
    "recipe_from_dict": "mmbind.recipe",
    "deep_merge": "mmbind.recipe.merge",
    "BenchmarkEntry": "mmbind.registry",
    "EncoderEntry": "mmbind.registry",
    "LLMEntry": "mmbind.registry",
    "MediaLoaderEntry": "mmbind.registry",
    "StageKindEntry": "mmbind.registry",
    "ProjectorEntry": "mmbind.registry",
    "Registry": "mmbind.registry",
    "default_registry": "mmbind.registry",
    "load_registry": "mmbind.registry",
    "row_media": "mmbind.data.media_readers",  # a question row's media item, as the installed loaders read it
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)


__all__ = [
    "BenchmarkEntry",
    "CheckpointError",
    "ConversionError",
    "DataError",
    "DuplicatePluginError",
    "EncoderEntry",
    "InputError",
    "LLMEntry",
    "MediaError",
    "MediaLoaderEntry",
    "MmbindError",
    "MultimodalLM",
    "MultimodalOutput",
    "PluginError",
    "PluginOptionsError",
    "ProjectorEntry",
    "Recipe",
    "RecipeError",
    "Registry",
    "StageKindEntry",
    "UnknownPluginError",
    "build_model",
    "deep_merge",
    "default_registry",
    "hookimpl",
    "load_pretrained",
    "load_recipe",
    "load_registry",
    "recipe_from_dict",
    "row_media",
    "summarize",
]
