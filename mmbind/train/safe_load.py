"""safe_load.py

Reading the pickled files of a checkpoint (``optimizer.pt``, ``scheduler.pt``, ``rng-rank*.pt``) without
running code: ``torch.load(weights_only=True)``, which rebuilds only tensors and plain containers, plus an
explicit allow-list of the NumPy types that RNG files written before NumPy states were stored as tensors
hold (`numpy.random.get_state()` returns an ndarray). A file holding anything else is refused with a
`CheckpointError`; its payload never runs.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmbind.errors import CheckpointError


def _numpy_globals() -> list[Any]:
    from numpy._core.multiarray import _reconstruct  # type: ignore[attr-defined]

    return [_reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]


def safe_torch_load(path: Path) -> Any:
    """The object in ``path``, restricted to tensors, plain containers and NumPy arrays (on the CPU)."""
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        pattern = r"(?:unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)"
        found = re.search(pattern, str(exc), re.IGNORECASE)
        what = f"object {found.group(1)}" if found else "objects"
        raise CheckpointError(f"{path}: refused to load: it holds {what} besides tensors and plain data "
                              "(a tampered or foreign file)") from None
    except (OSError, RuntimeError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise CheckpointError(f"{path}: unreadable ({type(exc).__name__}: {str(exc)[:200]})") from None
