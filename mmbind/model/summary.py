"""summary.py

Per-part parameter counts of a `MultimodalLM`: part, plugin, parameters, trainable.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from mmbind.model.multimodal_lm import MultimodalLM


@dataclass(frozen=True)
class PartSummary:
    """One row of the model summary."""

    part: str  # "encoder:image", "projector", "llm", ...
    plugin: str  # plugin that built it
    parameters: int  # total parameter count
    trainable: int  # parameters with requires_grad


def summarize(model: MultimodalLM) -> list[PartSummary]:
    """One row per encoder, projector and the LLM."""
    spec = model.config.model
    rows = [
        _row(f"encoder:{m}", spec["encoders"][m]["plugin"], enc) for m, enc in model.encoders.items()
    ]
    for key, projector in model.projectors.items():
        part = "projector" if key == "shared" else f"projector:{key}"
        rows.append(_row(part, spec["projector"]["plugin"], projector))
    rows.append(_row("llm", spec["llm"]["plugin"], model.llm))
    return rows


def _row(part: str, plugin: str, module: nn.Module) -> PartSummary:
    params = list(module.parameters())
    return PartSummary(
        part, plugin, sum(p.numel() for p in params), sum(p.numel() for p in params if p.requires_grad)
    )
