"""linear.py

The ``linear`` projector: one Linear layer from encoder width to LLM width (LLaVA-1's projector; its
``proj.*`` are the original ``mm_projector``'s ``weight`` and ``bias``).
"""

from __future__ import annotations

import torch
from torch import nn

from mmbind import ProjectorEntry, hookimpl
from mmbind.interfaces import BuildContext, OriginalProjector, Projector
from mmbind.recipe.strict import StrictModel
from mmbind.weightfiles import load_strict


class LinearOptions(StrictModel):
    """Options of the ``linear`` projector."""

    bias: bool = True  # add a bias term


class LinearProjector(Projector):
    """``(N, L, D_in) -> (N, L, D_out)`` by a single Linear."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.proj = nn.Linear(in_dim, out_dim, bias=bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.proj(tokens)

    def original_projector(self) -> OriginalProjector:
        return OriginalProjector("linear", None, self.proj.state_dict())

    def load_original_state(self, state: dict[str, torch.Tensor], where: str) -> None:
        load_strict(self, {f"proj.{key}": value for key, value in state.items()}, where)


def build(options: LinearOptions, in_dim: int, out_dim: int, context: BuildContext) -> LinearProjector:
    """Factory registered as ``linear`` (the same projector whichever modality ``context`` names)."""
    return LinearProjector(in_dim, out_dim, options.bias)


@hookimpl
def mmbind_projectors() -> list[ProjectorEntry]:
    return [ProjectorEntry("linear", LinearOptions, build, "one Linear layer")]
