"""lora.py

LoRA adapters on the LLM backend through peft (r, alpha, dropout, target modules from the recipe;
Video-LLaVA's: r=128, alpha=256 on every Linear of the LLM except the output head), and merging them back
into the base weights so a saved stage output is a plain model.
"""

from __future__ import annotations

from typing import Any

from mmbind.errors import RecipeError
from mmbind.recipe.training_schema import LoraSpec


def apply_lora(model: Any, spec: LoraSpec) -> None:
    """Wrap ``model.llm.model`` (a transformers model) in a peft LoRA model, in place."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise RecipeError("stages.*.lora needs peft: pip install 'mmbind[lora]'") from None
    inner = getattr(model.llm, "model", None)
    if inner is None or not hasattr(inner, "config"):
        raise RecipeError("stages.*.lora: the LLM backend is not a transformers model peft can adapt")
    config = LoraConfig(
        r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=spec.target_modules,
        bias="none", task_type="CAUSAL_LM",
    )
    model.llm.model = get_peft_model(inner, config)


def merge_lora(model: Any) -> None:
    """Fold the adapters into the base weights and drop peft's wrapper (no-op without LoRA)."""
    inner = getattr(model.llm, "model", None)
    if inner is not None and hasattr(inner, "merge_and_unload"):
        model.llm.model = inner.merge_and_unload()
