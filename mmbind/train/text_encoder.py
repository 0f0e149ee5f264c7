"""text_encoder.py

The text side of an ``align`` stage: a transformers `CLIPTextModel` (causal, right-padded captions), pooled
at each caption's last real token (its EOS) and linearly projected into the shared space, as CLIP's text
tower. The vocabulary is the run's tokenizer; the geometry comes from the stage options.

Saved in ``RUN/stages/<name>/text_encoder/``: the CLIPTextModel (``config.json`` + ``model.safetensors``,
transformers' own format) and ``heads.safetensors`` (``text_projection.weight``, plus what `align.py`
adds: each aligned modality's pooling head and the logit scale), so a later stage can load it frozen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import CLIPTextConfig, CLIPTextModel

from mmbind.errors import CheckpointError, RecipeError
from mmbind.recipe.stage_options import TEXT_DEFAULTS
from mmbind.weightfiles import load_strict

HEADS = "heads.safetensors"
WEIGHTS = "model.safetensors"  # transformers' file name: CLIPTextModel.from_pretrained reads the directory
TEXT_PROJECTION = "text_projection.weight"


def text_config(tokenizer: Any, fields: dict[str, Any], where: str) -> CLIPTextConfig:
    """A CLIPTextConfig over the tokenizer's vocabulary: TEXT_DEFAULTS updated with ``fields``."""
    merged = {**TEXT_DEFAULTS, **fields}
    merged.setdefault("vocab_size", len(tokenizer))
    for key, token_id in (("pad_token_id", tokenizer.pad_token_id), ("bos_token_id", tokenizer.bos_token_id),
                          ("eos_token_id", tokenizer.eos_token_id)):
        merged.setdefault(key, token_id)
    try:
        config = CLIPTextConfig(**merged)
    except Exception as exc:  # transformers' config validation raises several exception types
        reason = str(exc).strip().splitlines()[-1].strip()
        raise RecipeError(f"{where}.text_encoder.config: invalid CLIPTextConfig: {reason}") from None
    if config.hidden_size % config.num_attention_heads:
        raise RecipeError(f"{where}.text_encoder.config: hidden_size {config.hidden_size} is not a multiple "
                          f"of num_attention_heads {config.num_attention_heads}")
    return config


class TextTower(nn.Module):
    """Captions ``(N, S)`` (right-padded, mask ``(N, S)``) to embeddings ``(N, embed_dim)``."""

    def __init__(self, model: CLIPTextModel, embed_dim: int) -> None:
        super().__init__()
        self.model = model
        width = model.config.hidden_size
        self.projection = nn.Linear(width, embed_dim, bias=False)
        nn.init.normal_(self.projection.weight, std=width**-0.5)

    @classmethod
    def fresh(cls, config: CLIPTextConfig, embed_dim: int) -> TextTower:
        """A randomly initialised tower."""
        return cls(CLIPTextModel(config), embed_dim)

    @property
    def max_length(self) -> int:
        """Longest caption in tokens (the position table)."""
        return int(self.model.config.max_position_embeddings)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state  # final layer norm applied
        last = mask.sum(dim=1).clamp(min=1) - 1
        pooled = hidden[torch.arange(len(ids), device=ids.device), last]
        return self.projection(pooled)

    def save(self, directory: Path) -> dict[str, torch.Tensor]:
        """Write the CLIPTextModel into ``directory``; returns the head tensors for ``heads.safetensors``."""
        self.model.config.save_pretrained(directory)
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        save_file(state, str(directory / WEIGHTS), metadata={"format": "pt"})
        return {TEXT_PROJECTION: self.projection.weight.detach().cpu().contiguous()}


def load_text_tower(directory: Path) -> tuple[TextTower, dict[str, torch.Tensor]]:
    """A saved text tower and all heads saved with it (strict)."""
    heads_file = directory / HEADS
    if not all((directory / f).is_file() for f in ("config.json", WEIGHTS, HEADS)):
        raise CheckpointError(f"{directory}: no saved text encoder (needs config.json, {WEIGHTS}, {HEADS})")
    heads = load_file(str(heads_file))
    model = CLIPTextModel(CLIPTextConfig.from_pretrained(directory, local_files_only=True))
    load_strict(model, load_file(str(directory / WEIGHTS)), where=str(directory / WEIGHTS))
    weight = heads[TEXT_PROJECTION]
    tower = TextTower(model, weight.shape[0])
    with torch.no_grad():
        tower.projection.weight.copy_(weight)
    return tower, heads
