"""block_checkpointing.py

`checkpoint_blocks`: activation (gradient) checkpointing of a backend's repeated blocks with
``torch.utils.checkpoint`` (non-reentrant), the default of `LLMBackend.enable_gradient_checkpointing`.
A checkpointed block keeps only its inputs during forward and recomputes its activations in backward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

_MARK = "_mmbind_checkpointed"


def checkpoint_blocks(blocks: list[nn.Module]) -> None:
    """Make every block of ``blocks`` recompute its forward in backward while training (idempotent)."""
    for block in blocks:
        if getattr(block, _MARK, False):
            continue
        block.forward = _checkpointed(block, block.forward)  # type: ignore[method-assign]
        setattr(block, _MARK, True)


def _checkpointed(block: nn.Module, forward: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        if not (block.training and torch.is_grad_enabled()):
            return forward(*args, **kwargs)
        return checkpoint(forward, *args, use_reentrant=False, **kwargs)

    return run
