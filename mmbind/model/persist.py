"""persist.py

Saving and loading `MultimodalLM` checkpoints: ``mmbind_config.json`` (the resolved recipe and
placeholder ids), safetensors weights, and each part's artifacts (``llm/``, ``encoders/<modality>/``) so a
model rebuilds without the files it was first built from.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mmbind.model.build import build_model
from mmbind.model.config import MultimodalConfig
from mmbind.model.multimodal_lm import MultimodalLM
from mmbind.model.weights import load_into, load_state_dict, save_state_dict
from mmbind.recipe import recipe_from_dict
from mmbind.registry import Registry


def save_model(model: MultimodalLM, directory: Path, state: dict[str, torch.Tensor] | None = None) -> Path:
    """Write ``model`` into ``directory`` (created if needed); ``state`` replaces ``model.state_dict()``
    (e.g. the full state gathered from FSDP shards)."""
    directory.mkdir(parents=True, exist_ok=True)
    model.config.save(directory)
    for modality, encoder in model.encoders.items():
        sub = directory / "encoders" / modality
        sub.mkdir(parents=True, exist_ok=True)
        encoder.save_artifacts(sub)  # type: ignore[operator]
    (directory / "llm").mkdir(exist_ok=True)
    model.llm.save_artifacts(directory / "llm")
    save_state_dict(model.state_dict() if state is None else state, directory)
    return directory


def load_pretrained(
    directory: str | Path, registry: Registry | None = None, dtype: torch.dtype | None = None
) -> MultimodalLM:
    """Rebuild the model saved in ``directory`` and load its weights strictly. This is the one loader:
    public as ``mmbind.load_pretrained``; `MultimodalLM.from_pretrained` only delegates to it."""
    directory = Path(directory)
    config = MultimodalConfig.load(directory)
    recipe = recipe_from_dict(
        {"name": config.name, "model": config.model}, source=str(directory / "mmbind_config.json"),
        registry=registry,
    )
    model = build_model(recipe, registry, restore_from=directory, placeholder_ids=config.placeholder_ids)
    model.config.extra = config.extra
    state, tied = load_state_dict(directory)
    load_into(model, state, tied, where=str(directory))
    if dtype is not None:
        model.to(dtype)
    return model.eval()
