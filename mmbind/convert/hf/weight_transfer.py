"""weight_transfer.py

Strict weight transfer between transformers' Video-LLaVA and an mmbind model, joined on canonical names
(see `keys`). Anything left over on either side is an error that names the first keys; tied embeddings
(one tensor under two names) count once.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from mmbind.convert.hf.keys import canonical_to_hf, hf_to_canonical, mmbind_to_canonical, skip_hf_key
from mmbind.convert.weight_matching import first_keys, tied_groups
from mmbind.errors import ConversionError
from mmbind.model import MultimodalLM

ORPHANS = "mmbind weights without a counterpart"  # message wording for leftovers on the mmbind side


def mmbind_names(model: MultimodalLM) -> tuple[dict[str, str], list[str]]:
    """(canonical -> mmbind key, mmbind keys with no Video-LLaVA counterpart)."""
    prefix = model.llm.model.base_model_prefix  # type: ignore[union-attr]
    names, orphans = {}, []
    for key in model.state_dict():
        canonical = mmbind_to_canonical(key, prefix)
        if canonical is None:
            orphans.append(key)
        else:
            names[canonical] = key
    return names, orphans


def load_hf_weights(model: MultimodalLM, weights: Iterable[tuple[str, torch.Tensor]], where: str) -> None:
    """Load Video-LLaVA ``weights`` into ``model``; any unmapped, missing or misshapen key raises."""
    names, _ = mmbind_names(model)
    expected = model.state_dict()
    tied = tied_groups(expected)
    loaded: set[str] = set()
    pending: dict[str, torch.Tensor] = {}  # tied names, resolved at the end
    unmapped = []
    for key, tensor in weights:
        if skip_hf_key(key):
            continue
        canonical = hf_to_canonical(key)
        target = names.get(canonical) if canonical is not None else None
        if target is None:
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
    by_target = {target: canonical for canonical, target in names.items()}
    missing = [
        canonical_to_hf(by_target[key])
        for key in expected
        if key in by_target and key not in loaded and not any(t in loaded for t in tied[key])
    ]
    if unmapped or missing:
        parts = [first_keys(unmapped, "unmapped"), first_keys(missing, "missing")]
        detail = "; ".join(p for p in parts if p)
        raise ConversionError(f"{where}: weights do not match the Video-LLaVA layout: {detail}")
    with torch.no_grad():
        for key, tensor in pending.items():
            for other in tied[key]:
                if other in pending and not torch.equal(pending[other], tensor):
                    pair = sorted(canonical_to_hf(by_target[k]) for k in (key, other))
                    raise ConversionError(
                        f"{where}: tie_word_embeddings is true but {pair[0]} and {pair[1]} differ; "
                        "set tie_word_embeddings to false in config.json"
                    )
            expected[key].copy_(tensor)


def hf_state(model: MultimodalLM, hf_keys: list[str]) -> dict[str, torch.Tensor]:
    """The mmbind weights under the names ``hf_keys`` of a Video-LLaVA model; leftovers raise."""
    names, orphans = mmbind_names(model)
    if orphans:
        raise ConversionError(f"weights not expressible in Video-LLaVA: {first_keys(orphans, ORPHANS)}")
    source = model.state_dict()
    state, missing, used = {}, [], set()
    for key in hf_keys:
        canonical = hf_to_canonical(key)
        target = names.get(canonical) if canonical is not None else None
        if target is None:
            missing.append(key)
        else:
            state[key] = source[target]
            used.add(target)
    if missing:
        raise ConversionError(
            f"Video-LLaVA weights the mmbind model cannot provide: {first_keys(missing, 'missing')}"
        )
    tied = tied_groups(source)
    unused = [k for k in names.values() if k not in used and not any(t in used for t in tied[k])]
    if unused:
        raise ConversionError(f"weights not expressible in Video-LLaVA: {first_keys(unused, ORPHANS)}")
    return state
