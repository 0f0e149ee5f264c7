"""conversion.py

What the checkpoint converters (`mmbind convert` / ``export``) read of a part, as the part declares it:
`OriginalTower` (`Encoder.original_tower`: the upstream vision tower an encoder runs) and
`OriginalProjector` (`Projector.original_projector`: a projector as LLaVA's ``mm_projector``). Both carry the
part's weights under the upstream module's own names, sharing storage with the part's parameters: a
converter reads them to export and copies into them to import, so it never needs the part's attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from transformers import PreTrainedConfig


@dataclass(frozen=True)
class OriginalTower:
    """An encoder as the upstream vision tower it runs (e.g. a CLIP ViT)."""

    config: PreTrainedConfig  # the tower's transformers config (e.g. a CLIPVisionConfig)
    feature_layer: int | list[int]  # the hidden_states index whose tokens it returns (a list: concatenated)
    keep_cls: bool  # each image's / frame's CLS token is returned before its patches
    state: dict[str, torch.Tensor]  # weights under the tower's names (``embeddings.*``, ``encoder.layers.*``)


@dataclass(frozen=True)
class OriginalProjector:
    """A projector as LLaVA's ``mm_projector``."""

    kind: str  # LLaVA's mm_projector_type: "linear" (one Linear) or "mlp2x_gelu" (Linear, activation, Linear)
    act: str | None  # the activation between the layers as transformers names it (ACT2FN); None: linear
    state: dict[str, torch.Tensor]  # weights under mm_projector's names (``0.*``, ``2.*``; ``weight``, ...)
