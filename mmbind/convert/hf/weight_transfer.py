"""weight_transfer.py

Strict weight transfer between transformers' Video-LLaVA and an mmbind model, joined on canonical names
(see `keys`). The model's side comes from its parts' conversion capabilities (`canonical_state`); anything
left over on either side is an error that names the first keys; tied embeddings (one tensor under two
names) count once.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from mmbind.convert.hf.keys import (
    canonical_to_hf,
    hf_to_canonical,
    lm_canonical,
    projector_canonical,
    skip_hf_key,
    tower_canonical,
)
from mmbind.convert.weight_matching import first_keys, storage_key, tied_groups
from mmbind.errors import ConversionError
from mmbind.model import MultimodalLM

ORPHANS = "mmbind weights without a counterpart"  # message wording for leftovers on the mmbind side
MODALITIES = ("image", "video")  # Video-LLaVA's two towers


def canonical_state(model: MultimodalLM) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(canonical name -> the model's tensor, sharing its storage; the model's weights with no Video-LLaVA
    counterpart, by their mmbind names). A part that cannot be converted raises its `ConversionError`."""
    state: dict[str, torch.Tensor] = {}
    for modality in MODALITIES:
        tower = model.encoders[modality].original_tower()
        state |= {tower_canonical(modality, name): tensor for name, tensor in tower.state.items()}
    projector = model.projector_for(MODALITIES[0]).original_projector()
    hf_model = model.llm.hf_model()
    prefix = hf_model.base_model_prefix
    for name, tensor in [
        *((projector_canonical(n), t) for n, t in projector.state.items()),
        *((lm_canonical(n, prefix), t) for n, t in hf_model.state_dict().items()),
    ]:
        if name is not None:
            state[name] = tensor
    covered = {storage_key(tensor) for tensor in state.values()}
    orphans = [key for key, tensor in model.state_dict().items() if storage_key(tensor) not in covered]
    return state, orphans


def load_hf_weights(model: MultimodalLM, weights: Iterable[tuple[str, torch.Tensor]], where: str) -> None:
    """Load Video-LLaVA ``weights`` into ``model``; any unmapped, missing or misshapen key raises."""
    expected, _ = canonical_state(model)
    tied = tied_groups(expected)
    loaded: set[str] = set()
    pending: dict[str, torch.Tensor] = {}  # tied names, resolved at the end
    unmapped = []
    for key, tensor in weights:
        if skip_hf_key(key):
            continue
        target = hf_to_canonical(key)
        if target is None or target not in expected:
            unmapped.append(key)
            continue
        if tensor.shape != expected[target].shape:
            raise ConversionError(
                f"{where}: {key} has shape {tuple(tensor.shape)}, "
                f"the config implies {tuple(expected[target].shape)}"
            )
        loaded.add(target)
        if tied[target]:
            pending[target] = tensor
        else:
            with torch.no_grad():
                expected[target].copy_(tensor)  # copied at once: one weight file in memory at a time
    missing = [
        canonical_to_hf(key)
        for key in expected
        if key not in loaded and not any(t in loaded for t in tied[key])
    ]
    if unmapped or missing:
        parts = [first_keys(unmapped, "unmapped"), first_keys(missing, "missing")]
        detail = "; ".join(p for p in parts if p)
        raise ConversionError(f"{where}: weights do not match the Video-LLaVA layout: {detail}")
    with torch.no_grad():
        for key, tensor in pending.items():
            for other in tied[key]:
                if other in pending and not torch.equal(pending[other], tensor):
                    pair = sorted(canonical_to_hf(k) for k in (key, other))
                    raise ConversionError(
                        f"{where}: tie_word_embeddings is true but {pair[0]} and {pair[1]} differ; "
                        "set tie_word_embeddings to false in config.json"
                    )
            expected[key].copy_(tensor)


def hf_state(model: MultimodalLM, hf_keys: list[str]) -> dict[str, torch.Tensor]:
    """The mmbind weights under the names ``hf_keys`` of a Video-LLaVA model; leftovers raise."""
    source, orphans = canonical_state(model)
    if orphans:
        raise ConversionError(f"weights not expressible in Video-LLaVA: {first_keys(orphans, ORPHANS)}")
    state, missing, used = {}, [], set()
    for key in hf_keys:
        canonical = hf_to_canonical(key)
        if canonical is None or canonical not in source:
            missing.append(key)
        else:
            state[key] = source[canonical]
            used.add(canonical)
    if missing:
        raise ConversionError(
            f"Video-LLaVA weights the mmbind model cannot provide: {first_keys(missing, 'missing')}"
        )
    tied = tied_groups(source)
    unused = [k for k in source if k not in used and not any(t in used for t in tied[k])]
    if unused:
        raise ConversionError(f"weights not expressible in Video-LLaVA: {first_keys(unused, ORPHANS)}")
    return state
