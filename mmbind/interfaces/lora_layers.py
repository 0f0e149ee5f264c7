"""lora_layers.py

LoRA adapters injected into any module's Linear layers through peft (``inject_adapter_in_model``), and
merged back into the base weights; the default of `LLMBackend.apply_lora` / `LLMBackend.merge_lora`, so a
backend gets LoRA by naming its target modules (or ``all-linear``: every Linear but the output head).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from torch import nn

from mmbind.errors import RecipeError
from mmbind.interfaces.lora_spec import LoraSpec


def lora_config(spec: LoraSpec, target_modules: list[str] | str, **fields: Any) -> Any:
    """peft's ``LoraConfig`` for ``spec``; a missing peft is a `RecipeError`."""
    try:
        from peft import LoraConfig
    except ImportError:
        raise RecipeError("stages.*.lora needs peft: pip install 'mmbind[lora]'") from None
    return LoraConfig(
        r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=target_modules,
        bias="none", **fields,
    )


def linear_names(module: nn.Module, head_features: int) -> list[str]:
    """Full names of ``module``'s Linear layers except those with ``head_features`` outputs (the head)."""
    return [name for name, sub in module.named_modules()
            if isinstance(sub, nn.Linear) and sub.out_features != head_features]


def inject_lora(module: nn.Module, spec: LoraSpec, head_features: int) -> None:
    """Add LoRA adapters (parameters named ``lora_*``) to ``module``'s target Linear layers, in place."""
    targets = spec.target_modules
    if targets == "all-linear":
        targets = linear_names(module, head_features)
    config = lora_config(spec, targets)
    from peft import inject_adapter_in_model

    try:
        inject_adapter_in_model(config, module)
    except ValueError as exc:
        raise RecipeError(f"stages.*.lora.target_modules: {exc}") from None


def merge_lora_layers(module: nn.Module) -> None:
    """Fold every adapter into its base layer's weights and put the base layer back (no-op without LoRA)."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        return
    for name, sub in list(module.named_modules()):
        if isinstance(sub, BaseTunerLayer):
            sub.merge()
            parent, _, child = name.rpartition(".")
            setattr(module.get_submodule(parent) if parent else module, child, sub.get_base_layer())


@contextlib.contextmanager
def lora_layers_disabled(module: nn.Module) -> Iterator[None]:
    """Inside, every adapter of ``module`` is bypassed (the base weights alone: the model before LoRA);
    restored afterwards (no-op without LoRA)."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        yield
        return
    layers = [sub for sub in module.modules() if isinstance(sub, BaseTunerLayer) and not sub.disable_adapters]
    for layer in layers:
        layer.enable_adapters(False)
    try:
        yield
    finally:
        for layer in layers:
            layer.enable_adapters(True)
