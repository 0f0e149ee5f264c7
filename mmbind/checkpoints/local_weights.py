"""local_weights.py

State dicts from local files in the layouts other projects publish, and strict loading with clear errors.

`read_state_dict` accepts a file (``.safetensors``; ``.bin`` / ``.pt`` / ``.pth`` / ``.ckpt`` read with
``torch.load(weights_only=True)``), a shard index (``*.index.json``), or a directory holding one of
transformers' standard names (``model.safetensors[.index.json]``, ``pytorch_model.bin[.index.json]``) or
exactly one weights file. A top-level ``"model"`` / ``"state_dict"`` wrapper (training checkpoints) is
unwrapped. Nothing is ever downloaded: a path that does not exist is an error.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from mmbind.errors import CheckpointError

STANDARD_NAMES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
TORCH_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
WRAPPER_KEYS = ("state_dict", "model")  # checked in this order


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors stored at ``path`` (file, shard index or directory), on the CPU."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or directory (weights are read from local paths only)")
    file = _resolve(path) if path.is_dir() else path
    if file.name.endswith(".index.json"):
        return _read_sharded(file)
    return _as_state_dict(_read_file(file), file)


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of ``state`` whose names start with ``prefix``, renamed without it."""
    return {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}


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


def _resolve(directory: Path) -> Path:
    for name in STANDARD_NAMES:
        if (directory / name).is_file():
            return directory / name
    found = sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix in (".safetensors", *TORCH_SUFFIXES)
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise CheckpointError(
            f"{directory}: no weights file found (looked for {', '.join(STANDARD_NAMES)}, "
            f"or a single *.safetensors / {' / '.join('*' + s for s in TORCH_SUFFIXES)} file)"
        )
    names = ", ".join(p.name for p in found[:5])
    raise CheckpointError(f"{directory}: several weights files and no shard index ({names}); name one file")


def _read_sharded(index: Path) -> dict[str, torch.Tensor]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        shard_names = sorted(set(weight_map.values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{index}: not a shard index with a 'weight_map' ({exc})") from None
    state: dict[str, torch.Tensor] = {}
    for name in shard_names:
        shard = index.parent / name
        if not shard.is_file():
            raise CheckpointError(f"{shard}: shard listed in {index.name} is missing")
        state.update(_as_state_dict(_read_file(shard), shard))
    return state


def _read_file(file: Path) -> dict:
    if file.suffix == ".safetensors":
        try:
            return load_file(str(file))
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"{file}: unreadable safetensors file ({exc})") from None
    if file.suffix in TORCH_SUFFIXES:
        try:
            obj = torch.load(file, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(file))
        except Exception as exc:  # pickle, zip and weights_only errors all mean "not a readable state dict"
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"{file}: cannot be read with torch.load(weights_only=True) ({reason})"
            ) from None
        if not isinstance(obj, dict):
            raise CheckpointError(f"{file}: holds a {type(obj).__name__}, not a state dict")
        return obj
    raise CheckpointError(
        f"{file}: unknown weights format (expected .safetensors, {', '.join(TORCH_SUFFIXES)} or *.index.json)"
    )


def _as_state_dict(obj: dict, file: Path) -> dict[str, torch.Tensor]:
    for key in WRAPPER_KEYS:
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{file}: not a state dict: entry {key!r} holds a {type(value).__name__}")
    if not obj:
        raise CheckpointError(f"{file}: holds no tensors")
    return dict(obj)
