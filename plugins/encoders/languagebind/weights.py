"""weights.py

Loading a LanguageBind tower's weights out of the checkpoints that carry them, strictly. The layouts
understood (a LanguageBind model, a bare tower, a sub-tree such as Video-LLaVA-7B's
``model.video_tower.video_tower.``) are described in `checkpoint_layout`.
"""

from __future__ import annotations

import torch
from torch import nn

from mmbind import CheckpointError
from mmbind.weightfiles import load_strict

from .checkpoint_layout import detect_prefix, tower_state

LORA_MARKERS = ("lora_", "base_model.model.", "base_layer.")


def load_tower_state(
    tower: nn.Module,
    state: dict[str, torch.Tensor],
    prefix: str | None = None,
    where: str = "checkpoint",
    ignore_others: bool = False,
) -> None:
    """Load ``tower`` strictly from the entries of ``state`` under ``prefix`` (None: detect).

    Raises `CheckpointError` naming ``where`` and the missing / unexpected / mis-shaped keys.
    """
    prefix = detect_prefix(state) if prefix is None else prefix
    selected = tower_state(state, prefix, ignore_others)
    if not selected:
        raise CheckpointError(f"{where}: no weights under the prefix {prefix!r}")
    label = f"{where} (prefix {prefix!r})" if prefix else where
    try:
        load_strict(tower, selected, label)
    except CheckpointError as exc:
        if any(marker in key for key in selected for marker in LORA_MARKERS):
            raise CheckpointError(
                f"{exc} -- this looks like an unmerged LoRA checkpoint; use a merged or fully fine-tuned one "
                "(e.g. LanguageBind_Video_merge or LanguageBind_Video_FT)"
            ) from None
        raise
