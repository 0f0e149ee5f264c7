"""weights.py

Loading a LanguageBind tower's weights out of the checkpoints that carry them, strictly.

Layouts understood (the tower's own parameter names are the same in all of them):

- a LanguageBind model (``LanguageBind_Image``, ``LanguageBind_Video_merge``): the tower under
  ``vision_model.``, next to ``text_model.*``, ``text_projection``, ``visual_projection`` and
  ``logit_scale``, which are skipped (those known names only: any other key is reported as unexpected);
- a bare tower (e.g. a 4.x ``CLIPVisionModel`` saves ``vision_model.*``, a 5.x one the bare names);
- a sub-tree of a bigger checkpoint, e.g. Video-LLaVA-7B's ``model.video_tower.video_tower.`` or
  ``model.image_tower.image_tower.`` (``ignore_others=True``: every key outside the prefix is skipped).

``embeddings.position_ids`` (a constant buffer that older transformers saved) is skipped everywhere.
"""

from __future__ import annotations

import torch
from torch import nn

from mmbind import CheckpointError
from mmbind.checkpoints import load_strict

VISION_PREFIX = "vision_model."
NON_VISION_PREFIXES = ("text_model.", "text_projection.", "visual_projection.", "logit_scale")
SKIPPED_BUFFERS = ("embeddings.position_ids",)
LORA_MARKERS = ("lora_", "base_model.model.", "base_layer.")


def detect_prefix(state: dict[str, torch.Tensor]) -> str:
    """``"vision_model."`` when the checkpoint nests the tower under it, else ``""`` (bare layout)."""
    return VISION_PREFIX if any(key.startswith(VISION_PREFIX) for key in state) else ""


def tower_state(
    state: dict[str, torch.Tensor], prefix: str, ignore_others: bool = False
) -> dict[str, torch.Tensor]:
    """The tower's entries of ``state`` renamed without ``prefix``.

    A key outside ``prefix`` is skipped when ``ignore_others`` is set or it is a known non-vision entry of
    a LanguageBind model; otherwise it is kept under its own name so strict loading reports it.
    """
    tower = {}
    for key, value in state.items():
        if key.startswith(prefix):
            name = key[len(prefix):]
        elif ignore_others or key.startswith(NON_VISION_PREFIXES):
            continue
        else:
            name = key
        if name not in SKIPPED_BUFFERS:
            tower[name] = value
    return tower


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
