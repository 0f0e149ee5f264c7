"""source_keys.py

Parameter names of an original Video-LLaVA checkpoint, and the part of an mmbind model that provides each,
under the name the part declares for it (its upstream name):

=========================================  ======================================================
original (``LlavaLlamaForCausalLM``)       mmbind part, name it declares
=========================================  ======================================================
``model.image_tower.image_tower.<p>``      image encoder, `Encoder.original_tower` ``<p>``
``model.video_tower.video_tower.<p>``      video encoder, the same (temporal weights too)
``model.mm_projector.<p>``                 the shared projector, `Projector.original_projector` ``<p>``
``model.<p>``, ``lm_head.<p>``             the LLM's transformers model (`LLMBackend.hf_model`), the same
=========================================  ======================================================

Skipped: rotary ``inv_freq`` buffers and ``embeddings.position_ids`` (constants older versions saved).
"""

from __future__ import annotations

import re

import torch

from mmbind.model import MultimodalLM
from mmbind.model.multimodal_lm import SHARED

IMAGE_PREFIX = "model.image_tower.image_tower."  # the image tower's copy inside Video-LLaVA
VIDEO_PREFIX = "model.video_tower.video_tower."  # the video tower's copy (with temporal attention)
PROJECTOR_PREFIX = "model.mm_projector."
TOWER_PREFIXES = {"image": IMAGE_PREFIX, "video": VIDEO_PREFIX}
_SKIP = re.compile(r"(\.rotary_emb\.inv_freq|(^|\.)embeddings\.position_ids)$")


def skip_source_key(key: str) -> bool:
    """True for saved constants that carry no weight (recomputed on load)."""
    return bool(_SKIP.search(key))


def source_targets(model: MultimodalLM, skipped: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """The model's weights under the source's names (sharing storage: copying into them loads the model),
    but for the encoders of the ``skipped`` modalities."""
    targets: dict[str, torch.Tensor] = {}
    for modality, encoder in model.encoders.items():
        if modality not in skipped:
            state = encoder.original_tower().state
            targets |= {TOWER_PREFIXES[modality] + name: tensor for name, tensor in state.items()}
    projector = model.projector_for(SHARED).original_projector()  # Video-LLaVA's one projector
    targets |= {PROJECTOR_PREFIX + name: tensor for name, tensor in projector.state.items()}
    return targets | model.llm.hf_model().state_dict()
