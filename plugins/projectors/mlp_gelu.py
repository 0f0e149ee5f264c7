"""mlp_gelu.py

The ``mlp2x_gelu`` projector of LLaVA-1.5 and Video-LLaVA: Linear -> GELU (exact erf) -> Linear.
Parameters are named ``layers.0.*`` and ``layers.2.*``: the original ``mm_projector`` Sequential's ``0.*`` and
``2.*`` below ``layers`` (`original_projector`, `load_original_state`).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from mmbind import ProjectorEntry, hookimpl
from mmbind.interfaces import BuildContext, OriginalProjector, Projector
from mmbind.recipe.strict import StrictModel
from mmbind.weightfiles import load_strict


class MLPGeluOptions(StrictModel):
    """Options of the ``mlp2x_gelu`` projector."""

    act: Literal["gelu", "gelu_tanh", "quick_gelu", "relu", "silu"] = "gelu"  # activation between the layers
    bias: bool = True  # biases on both Linear layers


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)`` (OpenAI CLIP's activation)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


TRANSFORMERS_NAMES = {  # act -> its name in transformers' ACT2FN
    "gelu": "gelu",
    "gelu_tanh": "gelu_pytorch_tanh",
    "quick_gelu": "quick_gelu",
    "relu": "relu",
    "silu": "silu",
}
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
        self.act = act
        self.layers = nn.Sequential(
            nn.Linear(in_dim, out_dim, bias=bias), _ACTIVATIONS[act](), nn.Linear(out_dim, out_dim, bias=bias)
        )

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.layers(tokens)

    def original_projector(self) -> OriginalProjector:
        return OriginalProjector("mlp2x_gelu", TRANSFORMERS_NAMES[self.act], self.layers.state_dict())

    def load_original_state(self, state: dict[str, torch.Tensor], where: str) -> None:
        load_strict(self, {f"layers.{key}": value for key, value in state.items()}, where)


def build(options: MLPGeluOptions, in_dim: int, out_dim: int, context: BuildContext) -> MLPGeluProjector:
    """Factory registered as ``mlp2x_gelu`` (the same projector whichever modality ``context`` names)."""
    return MLPGeluProjector(in_dim, out_dim, options.act, options.bias)


@hookimpl
def mmbind_projectors() -> list[ProjectorEntry]:
    return [ProjectorEntry("mlp2x_gelu", MLPGeluOptions, build, "Linear-GELU-Linear (Video-LLaVA)")]
