"""rng.py

Capturing and restoring every random number generator a training step touches (Python, NumPy, torch
CPU and CUDA), and seeding them all from one number. A snapshot holds only tensors, numbers, strings
and tuples (NumPy's key array as a tensor), so checkpoints read it back with ``weights_only=True``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_all(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Snapshot of all generators."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": _numpy_to_plain(np.random.get_state()),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a snapshot taken by `rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(_numpy_from_plain(state["numpy"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _numpy_to_plain(state: Any) -> tuple[Any, ...]:
    kind, keys, pos, has_gauss, cached = state
    return (kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached))


def _numpy_from_plain(state: Any) -> tuple[Any, ...]:
    """NumPy's state tuple from a snapshot (the key array as a tensor, or as an ndarray in older files)."""
    kind, keys, pos, has_gauss, cached = state
    if isinstance(keys, torch.Tensor):
        keys = keys.numpy().astype(np.uint32)
    return (kind, keys, pos, has_gauss, cached)
