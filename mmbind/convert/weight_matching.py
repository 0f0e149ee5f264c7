"""weight_matching.py

What both converters' strict weight transfers share: `tied_groups` (names that share one tensor, such as
tied embeddings, count once; `storage_key` tells one tensor from another) and `first_keys` (how leftover
keys are named in an error).
"""

from __future__ import annotations

import torch


def storage_key(tensor: torch.Tensor) -> tuple[int, int, tuple[int, ...]]:
    """The same for two views of one tensor (a parameter and its ``state_dict`` entry, tied weights)."""
    return tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape)


def tied_groups(state: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """For every key, the other keys of ``state`` that share its storage (tied embeddings)."""
    by_storage: dict[tuple[int, int, tuple[int, ...]], list[str]] = {}
    for key, tensor in state.items():
        by_storage.setdefault(storage_key(tensor), []).append(key)
    return {key: [k for k in keys if k != key] for keys in by_storage.values() for key in keys}


def first_keys(keys: list[str], what: str, n: int = 3) -> str:
    """``"<count> <what> (first: k1, k2, k3)"``; empty when there are no ``keys``."""
    if not keys:
        return ""
    return f"{len(keys)} {what} (first: {', '.join(keys[:n])})"
