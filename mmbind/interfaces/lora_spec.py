"""lora_spec.py

`LoraSpec`: the LoRA settings an `LLMBackend` receives in ``apply_lora`` (rank, scaling, dropout, target
modules). A stage's ``lora:`` section of a recipe is validated into it (`recipe.training_schema.StageSpec`);
it is defined with the contracts, below the recipes, so that a backend types against the plugin surface.
Unknown keys are errors, as in every recipe schema.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LoraSpec(BaseModel):
    """LoRA adapters on the LLM (peft); merged into the weights when a stage's model is saved."""

    model_config = ConfigDict(extra="forbid")  # as `mmbind.recipe.strict.StrictModel` (a layer above)

    r: int = Field(128, ge=1, description="adapter rank (Video-LLaVA: 128)")
    alpha: int = Field(256, ge=1, description="scaling numerator (Video-LLaVA: 256)")
    dropout: float = Field(0.05, ge=0, lt=1, description="dropout on the adapter input")
    target_modules: list[str] | str = Field("all-linear", description="module names, or 'all-linear'")
