"""parts.py

Which parts of a `MultimodalLM` a stage trains: everything is frozen, then the named parts
(``projector``, ``projector:<modality>``, ``llm``, ``encoders``, ``encoder:<modality>``) are unfrozen. Each
part becomes its own optimizer parameter groups with its learning rate (see `setup.py`).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from mmbind.errors import RecipeError


def part_modules(model: Any, part: str) -> list[nn.Module]:
    """The modules a part name refers to."""
    if part == "llm":
        return [model.llm]
    if part == "encoders":
        return list(model.encoders.values())
    if part == "projector":
        return list(model.projectors.values())
    kind, _, modality = part.partition(":")
    table = model.encoders if kind == "encoder" else model.projectors
    if modality not in table:
        known = ", ".join(table) or "none"
        raise RecipeError(f"train part {part!r}: this model has no {kind} {modality!r} (it has: {known})")
    return [table[modality]]


def set_trainable(model: nn.Module, parts: list[str], lora: bool = False) -> dict[str, list[nn.Parameter]]:
    """Freeze everything but ``parts``; returns the trainable parameters of each part.

    With ``lora`` the LLM's base weights stay frozen: only parameters whose name contains ``lora_`` train.
    """
    model.requires_grad_(False)
    out: dict[str, list[nn.Parameter]] = {}
    seen: set[int] = set()
    for part in parts:
        params = []
        for module in part_modules(model, part):
            for name, param in module.named_parameters():
                if id(param) in seen or (lora and part == "llm" and "lora_" not in name):
                    continue
                param.requires_grad_(True)
                seen.add(id(param))
                params.append(param)
        out[part] = params
    return out


def is_frozen(module: nn.Module) -> bool:
    """True when no parameter of ``module`` requires a gradient."""
    return not any(p.requires_grad for p in module.parameters())
