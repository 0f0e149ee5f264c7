"""build.py

The two ways to a `MultimodalLM`: `build_model` (a validated recipe, each part built by its plugin:
`parts.build_parts`) and `load_pretrained` (a saved model directory: `MultimodalLM.from_pretrained`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from mmbind.model.multimodal_lm import MultimodalLM
from mmbind.model.parts import build_parts
from mmbind.recipe import Recipe
from mmbind.registry import Registry


def build_model(
    recipe: Recipe,
    registry: Registry | None = None,
    *,
    restore_from: Path | None = None,
    placeholder_ids: dict[str, int] | None = None,
) -> MultimodalLM:
    """Build the model a recipe describes.

    ``restore_from`` rebuilds every part from the artifacts saved there without loading the parts' own
    weights; the caller then loads the saved state dict (as `load_pretrained` does).
    """
    parts = build_parts(recipe, registry, restore_from=restore_from, placeholder_ids=placeholder_ids)
    return MultimodalLM(parts.config, parts.encoders, parts.projectors, parts.llm)


def load_pretrained(
    directory: str | Path, registry: Registry | None = None, dtype: torch.dtype | None = None
) -> MultimodalLM:
    """Rebuild the model saved in ``directory`` and load its weights strictly (public as
    ``mmbind.load_pretrained``; the same as `MultimodalLM.from_pretrained`, with the same arguments)."""
    return MultimodalLM.from_pretrained(directory, registry=registry, dtype=dtype)
