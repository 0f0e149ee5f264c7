"""projector_only.py

`load_projector_only`: the stage-1 projector-only checkpoint of Video-LLaVA (``mm_projector.bin``, e.g.
``LanguageBind/Video-LLaVA-Pretrain-7B``; keys ``model.mm_projector.0.weight``, ...) into an mmbind
model's shared projector, strictly (`Projector.load_original_state`). As the original's loader, any
prefix before ``mm_projector.`` is accepted; every other key is an error.
"""

from __future__ import annotations

from pathlib import Path

from mmbind.errors import ConversionError
from mmbind.model import MultimodalLM
from mmbind.model.multimodal_lm import SHARED
from mmbind.weightfiles import read_state_dict

KEYWORD = "mm_projector."


def load_projector_only(model: MultimodalLM, path: str | Path) -> MultimodalLM:
    """Load the projector-only checkpoint at ``path`` (file or directory) into ``model``; returns it."""
    path = Path(path)
    if SHARED not in model.projectors:
        raise ConversionError(
            f"{path}: Video-LLaVA's projector serves both towers, but this model has one projector per "
            "modality (projector.shared is false)"
        )
    state = read_state_dict(path)
    others = [key for key in state if KEYWORD not in key]
    if others:
        raise ConversionError(
            f"{path}: not a projector-only checkpoint: {len(others)} key(s) outside mm_projector "
            f"(first: {', '.join(others[:3])})"
        )
    renamed = {key.split(KEYWORD, 1)[1]: value for key, value in state.items()}
    projector = model.projector_for(SHARED)
    projector.load_original_state(renamed, where=f"{path} (mm_projector.* as projectors.shared)")
    return model
