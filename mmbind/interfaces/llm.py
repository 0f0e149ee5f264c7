"""llm.py

`LLMBackend`: a causal language model that takes input embeddings.

The host splices projected media tokens into the text embeddings and calls the backend with
``inputs_embeds``; the backend exposes its embedding table, tokenizer and hidden size, and generates with
a KV cache: all at once (`generate`), or step by step (`start_decoding`: rows may leave and join
between steps, for the server's continuous batching; the default recomputes the sequence every step and
works on any backend, a backend with a KV cache overrides it).

It also declares what training needs, so the trainer never reaches inside it: its repeated blocks
(`block_modules`: the FSDP units and the gradient-checkpointing units), `enable_gradient_checkpointing`, and
LoRA (`apply_lora`, `merge_lora`). The defaults work on any backend built from plain torch modules:
checkpointing wraps the declared blocks with ``torch.utils.checkpoint``, LoRA injects peft adapters into the
backend's own Linear layers. The checkpoint converters need `hf_model` (by default a `ConversionError`
saying the backend cannot be converted).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mmbind.errors import MmbindError
from mmbind.interfaces.block_checkpointing import checkpoint_blocks
from mmbind.interfaces.capability import not_convertible, unsupported
from mmbind.interfaces.decode_state import DecodeState
from mmbind.interfaces.lora_layers import inject_lora, lora_layers_disabled, merge_lora_layers
from mmbind.interfaces.lora_spec import LoraSpec
from mmbind.interfaces.recompute_decoding import RecomputeDecoding

if TYPE_CHECKING:
    from transformers import PreTrainedModel


class LLMBackend(nn.Module, ABC):
    """A language model driven by ``inputs_embeds``."""

    tokenizer: Any | None  # a transformers tokenizer, or None for tokenizer-less tiny models

    @property
    @abstractmethod
    def hidden_size(self) -> int:
        """Width of the input embeddings."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of rows of the input embedding table."""

    @property
    def context_length(self) -> int | None:
        """The most tokens the model reads (prompt and answer together); None: no known limit. Inference
        refuses a longer prompt (`mmbind.prompting.text_guard`). Default: ``max_position_embeddings`` of
        `hf_model`'s config, when the backend has one."""
        try:
            config = self.hf_model().config
        except (MmbindError, AttributeError):
            return None
        value = getattr(config, "max_position_embeddings", None)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

    @abstractmethod
    def input_embeddings(self) -> nn.Embedding:
        """The token embedding table."""

    @abstractmethod
    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        logits_to_keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return logits ``(B, S, V)`` for the given embeddings.

        ``logits_to_keep``: 1-D indices of the sequence positions whose logits are wanted (training
        computes them only where a label is supervised); the result is then ``(B, len(indices), V)``.
        ``attention_mask`` None with restarting ``position_ids`` means packed sequences.
        """

    @abstractmethod
    def generate(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, **generate_kwargs: Any
    ) -> torch.Tensor:
        """Generate from left-padded embeddings with a KV cache; return only the new token ids."""

    def start_decoding(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> DecodeState:
        """Prefill left-padded prompt embeddings ``(B, S, D)``; the returned `DecodeState` holds each row's
        next-token logits and is advanced one token at a time. Its greedy tokens must be those of
        `generate` with ``do_sample=False`` (and no logits processors). Default: `RecomputeDecoding`, a
        full ``forward`` over the sequence every step (any backend; override it with a KV cache)."""
        return RecomputeDecoding(self, inputs_embeds, attention_mask)

    @abstractmethod
    def add_tokens(self, tokens: list[str]) -> list[int]:
        """Ensure ``tokens`` exist as special tokens of the tokenizer; return their ids.

        Placeholder ids may lie past the embedding table: they are replaced before the lookup.
        """

    def save_artifacts(self, directory: Path) -> None:
        """Write what is needed to rebuild this backend without its original files (config, tokenizer)."""

    def block_modules(self) -> list[nn.Module]:
        """The repeated transformer blocks, in order: FSDP shards each as a unit and gradient checkpointing
        recomputes each. Default: none declared (FSDP then shards the model as one unit)."""
        return []

    def enable_gradient_checkpointing(self) -> None:
        """Recompute activations in backward. Default: ``torch.utils.checkpoint`` around every block of
        `block_modules`; a backend without declared blocks does not support it (`RecipeError`)."""
        blocks = self.block_modules()
        if not blocks:
            raise unsupported(self, "gradient_checkpointing (it declares no block_modules)", "LLM backend")
        checkpoint_blocks(blocks)

    def apply_lora(self, spec: LoraSpec) -> None:
        """Add LoRA adapters (trainable parameters whose names contain ``lora_``) in place. Default: peft
        adapters on this module's Linear layers named by ``spec.target_modules`` (``all-linear``: every
        Linear but the output head, the one with `vocab_size` outputs)."""
        inject_lora(self, spec, self.vocab_size)

    def merge_lora(self) -> None:
        """Fold the adapters into the base weights so the backend is a plain model again (no-op without)."""
        merge_lora_layers(self)

    def lora_disabled(self) -> AbstractContextManager[None]:
        """A context inside which the adapters are bypassed: the backend as it was before `apply_lora`
        (preference training's reference). Default: peft's adapter layers under this module switched off."""
        return lora_layers_disabled(self)

    def hf_model(self) -> PreTrainedModel:
        """The transformers causal LM this backend runs (its weights under transformers' names, its config and
        generation config), for the checkpoint converters, whose layouts hold one. Default: it cannot be
        converted."""
        raise not_convertible(self, "hf_model", "LLM backend")
