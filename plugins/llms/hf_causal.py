"""hf_causal.py

The ``hf_causal`` LLM backend: anything `AutoModelForCausalLM` builds (Llama/Vicuna, Qwen2, GPT-2, ...),
from a local checkpoint directory or from a config dict (tiny random models). Nothing is downloaded. A
config dict is built when the recipe loads (`mmbind_plugins.hf_config`): an unknown ``model_type`` or key
and inconsistent attention geometry are recipe errors, not tracebacks when the stage starts.

Training hooks: the blocks are transformers' ``_no_split_modules`` layers, gradient checkpointing is
transformers' own, LoRA wraps the transformers model in a peft ``PeftModel`` (merged and unloaded after).
The transformers model itself is `HFCausalLM.model`; the converters of `mmbind.convert` get it through
`LLMBackend.hf_model`. Step-by-step decoding (the server's
continuous batching) runs on transformers' KV cache (`KVCacheDecoding`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
from pydantic import field_validator, model_validator
from torch import nn

from mmbind import CheckpointError, LLMEntry, hookimpl
from mmbind.interfaces import BuildContext, LLMBackend, LoraSpec
from mmbind.interfaces.decode_state import DecodeState
from mmbind.interfaces.lora_layers import lora_config
from mmbind.recipe.strict import StrictModel
from mmbind_plugins.hf_config import check_model_config

if TYPE_CHECKING:
    from transformers import PreTrainedModel

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


class HFCausalOptions(StrictModel):
    """Options of the ``hf_causal`` backend."""

    path: str | None = None  # local checkpoint directory (config, weights, optionally tokenizer)
    config: dict[str, Any] | None = None  # transformers config fields incl. model_type, for random init
    tokenizer: str | None = None  # local tokenizer directory; default: `path` when it holds one
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"  # parameter dtype
    attn_implementation: Literal["sdpa", "eager"] = "sdpa"  # attention kernel

    @model_validator(mode="after")
    def _one_source(self) -> HFCausalOptions:
        if (self.path is None) == (self.config is None):
            raise ValueError("give exactly one of 'path' (local checkpoint) or 'config' (random init)")
        if self.config is not None and "model_type" not in self.config:
            raise ValueError("config needs a 'model_type' (e.g. llama, qwen2, gpt2)")
        return self

    @field_validator("config")
    @classmethod
    def _valid_config(cls, config: dict[str, Any] | None) -> dict[str, Any] | None:
        """The transformers config is built now, at recipe time (unknown model_type or key, bad geometry)."""
        if config is not None and "model_type" in config:
            check_model_config(config)
        return config


class HFCausalLM(LLMBackend):
    """Wraps a transformers causal LM; parameters live under ``model.``."""

    def __init__(self, model: PreTrainedModel, tokenizer: Any | None) -> None:
        super().__init__()
        self.model = model  # the transformers model (a peft PeftModel around it while LoRA is applied)
        self.tokenizer = tokenizer

    def base_model(self) -> PreTrainedModel:
        """The transformers model, without peft's wrapper."""
        return self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model

    def hf_model(self) -> PreTrainedModel:
        """The transformers model (`base_model`): the converters map its weight names and write its config."""
        return self.base_model()

    def block_modules(self) -> list[nn.Module]:
        names: set[str] = set()
        for sub in self.model.modules():
            names.update(getattr(sub, "_no_split_modules", None) or [])
        return [m for m in self.model.modules() if type(m).__name__ in names]

    def enable_gradient_checkpointing(self) -> None:
        kwargs = {"use_reentrant": False}
        self.base_model().gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)

    def apply_lora(self, spec: LoraSpec) -> None:
        from peft import get_peft_model

        self.model = get_peft_model(self.model, lora_config(spec, spec.target_modules, task_type="CAUSAL_LM"))

    def merge_lora(self) -> None:
        if hasattr(self.model, "merge_and_unload"):
            self.model = self.model.merge_and_unload()

    @property
    def hidden_size(self) -> int:
        return self.model.get_input_embeddings().embedding_dim

    @property
    def vocab_size(self) -> int:
        return self.model.get_input_embeddings().num_embeddings

    def input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        logits_to_keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        keep = {} if logits_to_keep is None else {"logits_to_keep": logits_to_keep}
        out = self.model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,
            **keep,
        )
        return out.logits

    def generate(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, **kwargs: Any
    ) -> torch.Tensor:
        config = self.model.generation_config
        pad = config.pad_token_id if config.pad_token_id is not None else config.eos_token_id
        kwargs.setdefault("pad_token_id", pad if pad is not None else 0)
        return self.model.generate(inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs)

    def start_decoding(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> DecodeState:
        """Step-by-step decoding with a ``DynamicCache`` (`KVCacheDecoding`); models whose cache has
        sliding-window layers use the generic (recomputing) decoding."""
        from mmbind_plugins.llms.hf_kv_decoding import KVCacheDecoding, plain_dynamic_cache

        if not plain_dynamic_cache(self.model):
            return super().start_decoding(inputs_embeds, attention_mask)
        return KVCacheDecoding(self.model, inputs_embeds, attention_mask)

    def add_tokens(self, tokens: list[str]) -> list[int]:
        if self.tokenizer is None:
            raise ValueError("this backend has no tokenizer to add tokens to")
        # Placeholders are replaced before the embedding lookup and never predicted, so the embedding
        # table is not resized: ids past its end are fine and the logits keep the checkpoint's vocab.
        self.tokenizer.add_tokens(tokens, special_tokens=True)
        return self.tokenizer.convert_tokens_to_ids(tokens)

    def save_artifacts(self, directory: Path) -> None:
        self.model.config.save_pretrained(directory)
        self.model.generation_config.save_pretrained(directory)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(directory)


def _has_tokenizer(directory: Path) -> bool:
    return any((directory / name).is_file() for name in _TOKENIZER_FILES)


def _load_tokenizer(directory: Path | None) -> Any | None:
    from transformers import AutoTokenizer

    if directory is None or not _has_tokenizer(directory):
        return None
    return _local(
        "tokenizer", directory, lambda: AutoTokenizer.from_pretrained(directory, local_files_only=True)
    )


def _local(what: str, directory: Path, load: Callable[[], Any]) -> Any:
    """``load()`` of a local transformers file set; whatever it raises on damaged files (OSError,
    ValueError, JSONDecodeError, ...) becomes one `CheckpointError` naming the folder."""
    try:
        return load()
    except Exception as exc:  # noqa: BLE001 -- transformers raises many types for unreadable files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{directory}: the {what} files do not load ({reason})") from None


def build(options: HFCausalOptions, context: BuildContext) -> HFCausalLM:
    """Factory registered as ``hf_causal``."""
    from transformers import AutoConfig, AutoModelForCausalLM

    dtype = _DTYPES[options.dtype]
    attn = options.attn_implementation
    if context.artifacts_dir is not None:
        saved = context.artifacts_dir
        if not (saved / "config.json").is_file():
            raise CheckpointError(f"{saved}: config.json is missing (the LLM's configuration)")
        config = _local("config", saved, lambda: AutoConfig.from_pretrained(saved, local_files_only=True))
        model = AutoModelForCausalLM.from_config(config, attn_implementation=attn, dtype=dtype)
        return HFCausalLM(model, _load_tokenizer(context.artifacts_dir))
    if options.config is not None:
        fields = dict(options.config)
        config = AutoConfig.for_model(fields.pop("model_type"), **fields)
        model = AutoModelForCausalLM.from_config(config, attn_implementation=attn, dtype=dtype)
        tokenizer_dir = Path(options.tokenizer) if options.tokenizer else None
        return HFCausalLM(model, _load_tokenizer(tokenizer_dir))
    path = Path(options.path)  # type: ignore[arg-type]
    if not (path / "config.json").is_file():
        raise CheckpointError(f"hf_causal: {path} is not a local checkpoint directory (no config.json)")
    model = _local("checkpoint", path, lambda: AutoModelForCausalLM.from_pretrained(
        path, local_files_only=True, attn_implementation=attn, dtype=dtype
    ))
    return HFCausalLM(model, _load_tokenizer(Path(options.tokenizer) if options.tokenizer else path))


@hookimpl
def mmbind_llms() -> list[LLMEntry]:
    return [LLMEntry("hf_causal", HFCausalOptions, build, "any transformers AutoModelForCausalLM")]
