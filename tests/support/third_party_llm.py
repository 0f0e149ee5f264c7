"""third_party_llm.py

A third-party LLM backend written from scratch with plain torch modules (no transformers model): token and
position embeddings, pre-norm blocks of causal self-attention + MLP, a final norm and an output head. It
declares only what `LLMBackend` asks (its blocks; LoRA and gradient checkpointing use the interface's
defaults), and is registered as plugin ``torch_tiny_lm`` through `registry`, without installing anything.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from torch import nn
from transformers import AutoTokenizer

import mmbind
from mmbind.interfaces import BuildContext, LLMBackend
from mmbind.recipe import load_recipe
from mmbind.recipe.schema import Recipe
from mmbind.registry import Registry, load_registry

TRAIN_RECIPE = Path(__file__).resolve().parents[2] / "mmbind" / "recipes" / "tiny" / "train.yaml"
FIRST_PARTY = [
    "mmbind_plugins.encoders.clip_vision", "mmbind_plugins.encoders.open_clip_encoder",
    "mmbind_plugins.encoders.timm_mae", "mmbind_plugins.encoders.languagebind.image",
    "mmbind_plugins.encoders.languagebind.video", "mmbind_plugins.projectors.linear",
    "mmbind_plugins.projectors.mlp_gelu", "mmbind_plugins.llms.hf_causal", "mmbind.train.builtin_kinds",
]


class TinyLMOptions(BaseModel):
    """Options of ``torch_tiny_lm``."""

    model_config = ConfigDict(extra="forbid")
    tokenizer: str  # local tokenizer directory
    vocab_size: int = 512  # rows of the embedding table and outputs of the head
    hidden_size: int = 32  # model width
    layers: int = 2  # number of blocks
    heads: int = 2  # attention heads
    max_positions: int = 1024  # learned position embeddings


class Block(nn.Module):
    """Pre-norm causal self-attention, then a GELU MLP, each with a residual."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.up = nn.Linear(width, 4 * width)
        self.down = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.out(attended.transpose(1, 2).reshape(b, s, d))
        return x + self.down(F.gelu(self.up(self.norm2(x))))


class TinyLM(LLMBackend):
    """The backend: ``inputs_embeds`` to logits."""

    def __init__(self, options: TinyLMOptions, tokenizer: Any) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.embed = nn.Embedding(options.vocab_size, options.hidden_size)
        self.positions = nn.Embedding(options.max_positions, options.hidden_size)
        self.blocks = nn.ModuleList(Block(options.hidden_size, options.heads) for _ in range(options.layers))
        self.norm = nn.LayerNorm(options.hidden_size)
        self.head = nn.Linear(options.hidden_size, options.vocab_size, bias=False)

    @property
    def hidden_size(self) -> int:
        return self.embed.embedding_dim

    @property
    def vocab_size(self) -> int:
        return self.embed.num_embeddings

    def input_embeddings(self) -> nn.Embedding:
        return self.embed

    def block_modules(self) -> list[nn.Module]:
        return list(self.blocks)

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        logits_to_keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b, s, _ = inputs_embeds.shape
        if position_ids is None:
            position_ids = torch.arange(s, device=inputs_embeds.device).expand(b, -1)
        mask = torch.ones(s, s, dtype=torch.bool, device=inputs_embeds.device).tril().expand(b, 1, s, s)
        if attention_mask is not None:
            mask = mask & attention_mask.bool()[:, None, None, :]
        else:  # packed sequences: attend within the segment that each restart of position_ids begins
            segment = (position_ids == 0).cumsum(dim=1)
            mask = mask & (segment[:, None, :, None] == segment[:, None, None, :])
        mask = mask | torch.eye(s, dtype=torch.bool, device=mask.device)  # padding rows attend to themselves
        x = inputs_embeds + self.positions(position_ids)
        for block in self.blocks:
            x = block(x, mask)
        x = self.norm(x)
        if logits_to_keep is not None:
            x = x[:, logits_to_keep]
        return self.head(x)

    def generate(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, **kwargs: Any
    ) -> torch.Tensor:
        new: list[torch.Tensor] = []
        for _ in range(int(kwargs.get("max_new_tokens", 8))):
            positions = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
            token = self(inputs_embeds, attention_mask, positions)[:, -1].argmax(dim=-1)
            new.append(token)
            inputs_embeds = torch.cat([inputs_embeds, self.embed(token)[:, None]], dim=1)
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones(len(token), 1)], dim=1)
        return torch.stack(new, dim=1)

    def add_tokens(self, tokens: list[str]) -> list[int]:
        self.tokenizer.add_tokens(tokens, special_tokens=True)
        return self.tokenizer.convert_tokens_to_ids(tokens)

    def save_artifacts(self, directory: Path) -> None:
        self.tokenizer.save_pretrained(directory)


def build(options: TinyLMOptions, context: BuildContext) -> TinyLM:
    """Factory registered as ``torch_tiny_lm``; a restored model reads its saved tokenizer."""
    source = context.artifacts_dir if context.artifacts_dir is not None else options.tokenizer
    return TinyLM(options, AutoTokenizer.from_pretrained(source, local_files_only=True))


@mmbind.hookimpl
def mmbind_llms() -> list[mmbind.LLMEntry]:
    return [mmbind.LLMEntry("torch_tiny_lm", TinyLMOptions, build, "a from-scratch torch causal LM")]


def registry() -> Registry:
    """The first-party plugins plus this module, as an installed third-party plugin would be."""
    import importlib

    return load_registry([importlib.import_module(name) for name in FIRST_PARTY] + [sys.modules[__name__]])


def tiny_recipe(data: Path, *overrides: str) -> Recipe:
    """The tiny two-stage training recipe on ``data`` (`train_fixtures.make_data`) with this backend."""
    return load_recipe(TRAIN_RECIPE, [
        "model.llm.plugin=torch_tiny_lm", f"model.llm.options={{tokenizer: {data / 'tokenizer'}}}",
        f"data.datasets.pretrain.files=[{{path: {data / 'pretrain.json'}}}]",
        f"data.datasets.finetune.files=[{{path: {data / 'finetune.json'}}}]",
        "data.feature_cache.enabled=false", *overrides,
    ], registry())
