"""model_recipe.py

`recipe_dict`: the recipe mapping both converters write for a Video-LLaVA model: the given encoders, one
shared projector and an ``hf_causal`` LLM (with the source's tokenizer folder when it has one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def recipe_dict(
    name: str,
    encoders: dict[str, Any],
    projector: tuple[str, dict[str, Any]],
    llm_options: dict[str, Any],
    tokenizer_dir: Path | None,
    placeholder_ids: dict[str, int] | None = None,
) -> dict[str, Any]:
    """``{"name": ..., "model": ...}`` with ``encoders`` (modality -> part mapping), ``projector`` (plugin,
    options) shared by all of them, ``hf_causal`` with ``llm_options`` and ``placeholder_ids`` if given."""
    plugin, options = projector
    llm = dict(llm_options)
    if tokenizer_dir is not None:
        llm["tokenizer"] = str(tokenizer_dir)  # build_model adds the placeholder tokens after its vocab
    model: dict[str, Any] = {
        "encoders": encoders,
        "projector": {"plugin": plugin, "shared": True, "options": options},
        "llm": {"plugin": "hf_causal", "options": llm},
    }
    if placeholder_ids is not None:
        model["placeholder_ids"] = placeholder_ids
    return {"name": name, "model": model}
