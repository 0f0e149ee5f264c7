"""source_keys.py

Parameter names of an original Video-LLaVA checkpoint and where each lands in an mmbind model.

=========================================  =============================================
original (``LlavaLlamaForCausalLM``)       mmbind (`MultimodalLM`)
=========================================  =============================================
``model.image_tower.image_tower.<p>``      ``encoders.image.tower.<p>``
``model.video_tower.video_tower.<p>``      ``encoders.video.tower.<p>`` (temporal weights too)
``model.mm_projector.{0,2}.<p>``           ``projectors.shared.layers.{0,2}.<p>`` (mlp2x_gelu)
``model.mm_projector.<p>``                 ``projectors.shared.proj.<p>`` (linear)
``model.<p>`` (embed_tokens, layers, norm) ``llm.model.model.<p>``
``lm_head.<p>``                            ``llm.model.lm_head.<p>``
=========================================  =============================================

Skipped: rotary ``inv_freq`` buffers and ``embeddings.position_ids`` (constants older versions saved).
"""

from __future__ import annotations

import re

IMAGE_PREFIX = "model.image_tower.image_tower."  # the image tower's copy inside Video-LLaVA
VIDEO_PREFIX = "model.video_tower.video_tower."  # the video tower's copy (with temporal attention)
PROJECTOR_PREFIX = "model.mm_projector."
TOWER_PREFIXES = {"image": IMAGE_PREFIX, "video": VIDEO_PREFIX}
_SKIP = re.compile(r"(\.rotary_emb\.inv_freq|(^|\.)embeddings\.position_ids)$")
_SEQUENTIAL = re.compile(r"^(\d+)\.(.+)$")  # "0.weight": a layer of the mlp Sequential


def skip_source_key(key: str) -> bool:
    """True for saved constants that carry no weight (recomputed on load)."""
    return bool(_SKIP.search(key))


def projector_target(rest: str) -> str:
    """mmbind name (inside the projector) of ``mm_projector.<rest>``: ``layers.N.*`` or ``proj.*``."""
    return f"layers.{rest}" if _SEQUENTIAL.match(rest) else f"proj.{rest}"


def source_to_mmbind(key: str) -> str:
    """The mmbind parameter a source key belongs to (it may not exist: then the key is unexpected)."""
    for modality, prefix in TOWER_PREFIXES.items():
        if key.startswith(prefix):
            return f"encoders.{modality}.tower.{key[len(prefix):]}"
    if key.startswith(PROJECTOR_PREFIX):
        return "projectors.shared." + projector_target(key[len(PROJECTOR_PREFIX):])
    if key.startswith("model."):
        return "llm.model." + key
    if key.startswith("lm_head."):
        return "llm.model." + key
    return "unmapped." + key  # no mmbind counterpart: reported as unexpected


def mmbind_to_source(name: str) -> str:
    """The source key that provides an mmbind parameter (for messages about missing weights)."""
    match = re.match(r"^encoders\.(image|video)\.tower\.(.+)$", name)
    if match:
        return TOWER_PREFIXES[match.group(1)] + match.group(2)
    match = re.match(r"^projectors\.shared\.(?:layers|proj)\.(.+)$", name)
    if match:
        return PROJECTOR_PREFIX + match.group(1)
    return name.removeprefix("llm.model.")
