"""keys.py

Parameter-name mapping between transformers' Video-LLaVA and mmbind.

Both sides are reduced to one canonical name per weight (``image_tower.<p>``, ``video_tower.<p>``,
``projector.linear_{1,2}.<p>``, ``lm.<p>``, ``lm_head.<p>``) and joined on it. On the Hugging Face side
every layout seen in the wild is accepted: the current one (``model.language_model.*``,
``model.image_tower[.vision_model].*``, ``model.multi_modal_projector.*``, ``lm_head.*``) and the legacy
hub one (``language_model.model.*``, ``language_model.lm_head.*``, ``image_tower[.vision_model].*``,
``video_tower.*``, ``multi_modal_projector.*``). The optional ``vision_model.`` segment of a CLIP tower is
dropped, since transformers versions differ on whether `CLIPVisionModel` has it. On the mmbind side the
parts give their weights under their upstream names (`Encoder.original_tower`, `Projector.original_projector`,
`LLMBackend.hf_model`), which `tower_canonical`, `projector_canonical` and `lm_canonical` name canonically.
"""

from __future__ import annotations

import re

_HF_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(?:model\.)?(image|video)_tower\.(?:vision_model\.)?(.+)$"), r"\1_tower.\2"),
    (re.compile(r"^(?:model\.)?multi_modal_projector\.(linear_[12]\..+)$"), r"projector.\1"),
    (re.compile(r"^(?:model\.language_model|language_model\.model)\.(.+)$"), r"lm.\1"),
    (re.compile(r"^(?:language_model\.)?lm_head\.(.+)$"), r"lm_head.\1"),
)
_HF_SKIP = re.compile(r"\.rotary_emb\.inv_freq$")  # buffers old checkpoints saved; recomputed on load
_MM_PROJECTOR = re.compile(r"^([02])\.(.+)$")  # mm_projector's Sequential: linear_1 is 0, linear_2 is 2


def skip_hf_key(key: str) -> bool:
    """True for keys of old checkpoints that carry no weight (rotary ``inv_freq`` buffers)."""
    return bool(_HF_SKIP.search(key))


def hf_to_canonical(key: str) -> str | None:
    """Canonical name of a Video-LLaVA checkpoint key, or None when it belongs to no known part."""
    for pattern, replacement in _HF_RULES:
        if pattern.match(key):
            return pattern.sub(replacement, key)
    return None


def canonical_to_hf(name: str) -> str:
    """The current transformers name of a canonical weight (for messages)."""
    part, _, rest = name.partition(".")
    if part == "lm":
        return f"model.language_model.{rest}"
    if part == "lm_head":
        return name
    if part == "projector":
        return f"model.multi_modal_projector.{rest}"
    return f"model.{name}"


def tower_canonical(modality: str, name: str) -> str:
    """Canonical name of weight ``name`` of the ``modality`` encoder's tower (`OriginalTower.state`)."""
    return f"{modality}_tower.{name}"


def projector_canonical(name: str) -> str | None:
    """Canonical name of an ``mm_projector`` weight (`OriginalProjector.state`), or None outside the MLP."""
    match = _MM_PROJECTOR.match(name)
    if match is None:
        return None
    return f"projector.linear_{1 if match.group(1) == '0' else 2}.{match.group(2)}"


def lm_canonical(name: str, base_prefix: str) -> str | None:
    """Canonical name of a weight of the LLM's transformers model (`LLMBackend.hf_model`: its base model
    under ``base_prefix``, its head under ``lm_head``), or None when Video-LLaVA has no place for it."""
    if name.startswith(f"{base_prefix}."):
        return "lm." + name[len(base_prefix) + 1 :]
    if name.startswith("lm_head."):
        return name
    return None
