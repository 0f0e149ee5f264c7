"""lora.py

LoRA adapters on the LLM backend (r, alpha, dropout, target modules from the recipe; Video-LLaVA's: r=128,
alpha=256 on every Linear of the LLM except the output head), and merging them back into the base weights
so a saved stage output is a plain model. The backend does both (`LLMBackend.apply_lora` / ``merge_lora``).
"""

from __future__ import annotations

from typing import Any

from mmbind.interfaces.lora_spec import LoraSpec


def apply_lora(model: Any, spec: LoraSpec) -> None:
    """Add the stage's LoRA adapters to ``model.llm``, in place."""
    model.llm.apply_lora(spec)


def merge_lora(model: Any) -> None:
    """Fold the adapters into the base weights (no-op without LoRA)."""
    model.llm.merge_lora()
