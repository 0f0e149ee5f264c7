"""checkpoint_layout.py

Where a LanguageBind vision tower sits in the checkpoints that carry it (`weights.load_tower_state` loads
it; the Video-LLaVA converter reaches it through `Encoder.load_original_state`):

- a LanguageBind model (``LanguageBind_Image``, ``LanguageBind_Video_merge``): the tower under
  ``vision_model.``, next to ``text_model.*``, ``text_projection``, ``visual_projection`` and
  ``logit_scale``, which are skipped (those known names only: any other key is kept, so that strict
  loading reports it);
- a bare tower (e.g. a 4.x ``CLIPVisionModel`` saves ``vision_model.*``, a 5.x one the bare names);
- a sub-tree of a bigger checkpoint under a given prefix (``ignore_others=True``: every other key skipped).

``embeddings.position_ids`` (a constant buffer that older transformers saved) is skipped everywhere.
"""

from __future__ import annotations

import torch

VISION_PREFIX = "vision_model."  # a LanguageBind model's (and a 4.x CLIPVisionModel's) tower prefix
NON_VISION_PREFIXES = ("text_model.", "text_projection.", "visual_projection.", "logit_scale")
SKIPPED_BUFFERS = ("embeddings.position_ids",)


def detect_prefix(state: dict[str, torch.Tensor]) -> str:
    """``"vision_model."`` when the checkpoint nests the tower under it, else ``""`` (bare layout)."""
    return VISION_PREFIX if any(key.startswith(VISION_PREFIX) for key in state) else ""


def tower_state(
    state: dict[str, torch.Tensor], prefix: str | None = None, ignore_others: bool = False
) -> dict[str, torch.Tensor]:
    """The tower's entries of ``state`` renamed without ``prefix`` (None: `detect_prefix`).

    A key outside ``prefix`` is skipped when ``ignore_others`` is set or it is a known non-vision entry of
    a LanguageBind model; otherwise it is kept under its own name so strict loading reports it.
    """
    prefix = detect_prefix(state) if prefix is None else prefix
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
