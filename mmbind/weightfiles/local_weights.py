"""local_weights.py

State dicts from local files in the layouts other projects publish, and strict loading with clear errors.

`read_state_dict` accepts a file (``.safetensors``; ``.bin`` / ``.pt`` / ``.pth`` / ``.ckpt`` read with
``torch.load(weights_only=True)``), a shard index (``*.index.json``), or a directory holding one of
transformers' standard layouts (``model.safetensors[.index.json]``, ``pytorch_model.bin[.index.json]``) or
exactly one weights file. A top-level ``"model"`` / ``"state_dict"`` wrapper (training checkpoints) is
unwrapped (files are found and read by `weight_files`). Nothing is ever downloaded: a path that does not
exist is an error.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mmbind.errors import CheckpointError
from mmbind.weightfiles.weight_files import (
    STANDARD_NAMES,
    TORCH_SUFFIXES,
    find_weight_files,
    iter_weights,
    shard_files,
)

DDP_PREFIX = "module."  # what torch's DistributedDataParallel puts before every parameter name


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors stored at ``path`` (file, shard index or directory), on the CPU."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or directory (weights are read from local paths only)")
    if path.is_dir():
        files = _resolve(path)
    elif path.name.endswith(".index.json"):
        files = shard_files(path)
    else:
        files = [path]
    return dict(iter_weights(files))


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of ``state`` whose names start with ``prefix``, renamed without it."""
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


def strip_ddp_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` without the ``module.`` prefix that a DistributedDataParallel wrapper gives every name."""
    return strip_prefix(state, DDP_PREFIX) if all(key.startswith(DDP_PREFIX) for key in state) else state


def load_strict(module: nn.Module, state: dict[str, torch.Tensor], where: str, show: int = 5) -> None:
    """Load ``state`` into ``module``: every key must match by name and shape, else `CheckpointError`.

    ``where`` names the source in messages (a path, or a path and a prefix); ``show`` is how many of the
    missing / unexpected names are listed.
    """
    expected = module.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing or unexpected:
        parts = [_listing("missing", missing, show), _listing("unexpected", unexpected, show)]
        raise CheckpointError(f"{where}: weights do not match the model: " + "; ".join(p for p in parts if p))
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            want = tuple(expected[key].shape)
            raise CheckpointError(f"{where}: {key} has shape {tuple(tensor.shape)}, the model expects {want}")
    module.load_state_dict(state, strict=True)


def _listing(label: str, keys: list[str], show: int) -> str:
    if not keys:
        return ""
    more = f", ... (+{len(keys) - show} more)" if len(keys) > show else ""
    return f"{len(keys)} {label} ({', '.join(keys[:show])}{more})"


def _resolve(directory: Path) -> list[Path]:
    files = find_weight_files(directory)
    if files is not None:
        return files
    found = sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix in (".safetensors", *TORCH_SUFFIXES)
    )
    if len(found) == 1:
        return found
    if not found:
        raise CheckpointError(
            f"{directory}: no weights file found (looked for {', '.join(STANDARD_NAMES)}, "
            f"or a single *.safetensors / {' / '.join('*' + s for s in TORCH_SUFFIXES)} file)"
        )
    names = ", ".join(p.name for p in found[:5])
    raise CheckpointError(f"{directory}: several weights files and no shard index ({names}); name one file")
