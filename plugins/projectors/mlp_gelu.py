"""mlp_gelu.py

The ``mlp2x_gelu`` projector of LLaVA-1.5 and Video-LLaVA: Linear -> GELU (exact erf) -> Linear.
Parameters are named ``0.*`` and ``2.*`` like the original ``mm_projector`` Sequential.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from mmbind import ProjectorEntry, hookimpl
from mmbind.interfaces import BuildContext, Projector
from mmbind.recipe.strict import StrictModel


class MLPGeluOptions(StrictModel):
    """Options of the ``mlp2x_gelu`` projector."""

    act: Literal["gelu", "gelu_tanh", "quick_gelu", "relu", "silu"] = "gelu"  # activation between the layers
    bias: bool = True  # biases on both Linear layers


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)`` (OpenAI CLIP's activation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


_ACTIVATIONS = {
    "gelu": nn.GELU,
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "quick_gelu": QuickGELU,
    "relu": nn.ReLU,
    "silu": nn.SiLU,
}


class MLPGeluProjector(Projector):
    """Two Linear layers with an activation between them; hidden width = output width."""

    def __init__(self, in_dim: int, out_dim: int, act: str = "gelu", bias: bool = True) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.layers = nn.Sequential(
            nn.Linear(in_dim, out_dim, bias=bias), _ACTIVATIONS[act](), nn.Linear(out_dim, out_dim, bias=bias)
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.layers(tokens)


def build(options: MLPGeluOptions, in_dim: int, out_dim: int, context: BuildContext) -> MLPGeluProjector:
    """Factory registered as ``mlp2x_gelu`` (the same projector whichever modality ``context`` names)."""
    return MLPGeluProjector(in_dim, out_dim, options.act, options.bias)


@hookimpl
def mmbind_projectors() -> list[ProjectorEntry]:
    return [ProjectorEntry("mlp2x_gelu", MLPGeluOptions, build, "Linear-GELU-Linear (Video-LLaVA)")]
