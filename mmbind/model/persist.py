"""persist.py

Saving and restoring a model's files: ``mmbind_config.json`` (the resolved recipe and placeholder ids),
safetensors weights, and each part's artifacts (``llm/``, ``encoders/<modality>/``) so a model rebuilds
without the files it was first built from. `MultimodalLM.save_pretrained` / ``from_pretrained`` and a
training stage's output (`mmbind.train.export`) go through these functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from mmbind.interfaces import Encoder, LLMBackend
from mmbind.model.config import MultimodalConfig
from mmbind.model.parts import ModelParts, build_parts
from mmbind.model.weights import load_into, load_state_dict, save_state_dict
from mmbind.recipe import recipe_from_dict
from mmbind.registry import Registry


def save_model(
    directory: Path, config: MultimodalConfig, encoders: Mapping[str, Encoder], llm: LLMBackend,
    state: dict[str, torch.Tensor],
) -> Path:
    """Write a model into ``directory`` (created if needed): its config, each part's artifacts and
    ``state`` (its ``state_dict()``, or the full state gathered from FSDP shards)."""
    directory.mkdir(parents=True, exist_ok=True)
    config.save(directory)
    for modality, encoder in encoders.items():
        sub = directory / "encoders" / modality
        sub.mkdir(parents=True, exist_ok=True)
        encoder.save_artifacts(sub)
    (directory / "llm").mkdir(exist_ok=True)
    llm.save_artifacts(directory / "llm")
    save_state_dict(state, directory)
    return directory


def restore_parts(directory: Path, registry: Registry | None = None) -> ModelParts:
    """The parts of the model saved in ``directory``, rebuilt from its config and artifacts (the parts'
    own weights are not loaded: `load_weights_from` loads the saved state after)."""
    config = MultimodalConfig.load(directory)
    recipe = recipe_from_dict(
        {"name": config.name, "model": config.model}, source=str(directory / "mmbind_config.json"),
        registry=registry,
    )
    parts = build_parts(recipe, registry, restore_from=directory, placeholder_ids=config.placeholder_ids)
    parts.config.extra = config.extra
    return parts


def load_weights_from(model: nn.Module, directory: Path) -> None:
    """Load a saved model's weights into ``model`` strictly (same architecture)."""
    state, tied = load_state_dict(directory)
    load_into(model, state, tied, where=str(directory))
