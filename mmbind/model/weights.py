"""weights.py

Reading and writing state dicts as safetensors: one file or shards with an index (as transformers),
tensors shared between names (tied embeddings) stored once, strict loading that names what is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mmbind.errors import CheckpointError
from mmbind.json_file import NotJson, parse_json, read_json

WEIGHTS_NAME = "model.safetensors"
INDEX_NAME = "model.safetensors.index.json"


def save_state_dict(
    state: dict[str, torch.Tensor], directory: Path, max_shard_bytes: int = 5 * 2**30
) -> dict[str, str]:
    """Save ``state`` into ``directory``; returns the tied names dropped (name -> name kept)."""
    unique, tied = _dedupe(state)
    shards = _split(unique, max_shard_bytes)
    metadata = {"format": "pt", "tied": json.dumps(tied)}
    if len(shards) == 1:
        save_file(shards[0], str(directory / WEIGHTS_NAME), metadata=metadata)
        return tied
    weight_map = {}
    for i, shard in enumerate(shards, start=1):
        name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(directory / name), metadata=metadata)
        weight_map.update({key: name for key in shard})
    index = {"metadata": {"tied": tied}, "weight_map": weight_map}
    (directory / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return tied


def load_state_dict(directory: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read the weights in ``directory``; returns (state, tied names)."""
    single, index = directory / WEIGHTS_NAME, directory / INDEX_NAME
    if single.is_file():
        files, tied = [single], _tied_from_metadata(single)
    elif index.is_file():
        files, tied = _index_shards(index)
    else:
        raise CheckpointError(f"{directory}: no weights ({WEIGHTS_NAME} or {INDEX_NAME}) found")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        if not file.is_file():
            raise CheckpointError(f"{file}: weight shard listed in {INDEX_NAME} is missing")
        try:
            state.update(load_file(str(file)))
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"{file}: unreadable safetensors file ({exc})") from None
    return state, tied


def _index_shards(index: Path) -> tuple[list[Path], dict[str, str]]:
    """The shard files an index lists and its tied names (`CheckpointError` naming the index when it is not
    JSON, has no ``weight_map`` object of file names, or a ``metadata.tied`` that is not an object)."""
    data = read_json(index, CheckpointError)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(n, str) and n for n in weight_map.values()):
        raise CheckpointError(f"{index}: not a shard index (no 'weight_map' object of tensor names to files)")
    names = sorted(set(weight_map.values()))
    if any(Path(n).name != n for n in names):
        raise CheckpointError(f"{index}: its 'weight_map' names a file outside its folder")
    metadata = data.get("metadata")
    tied = metadata.get("tied", {}) if isinstance(metadata, dict) else {}
    if not isinstance(tied, dict):
        raise CheckpointError(f"{index}: 'metadata.tied' is not an object")
    return [index.parent / n for n in names], tied


def load_into(
    module: torch.nn.Module, state: dict[str, torch.Tensor], tied: dict[str, str], where: str
) -> None:
    """Load ``state`` strictly; missing or unexpected keys raise a `CheckpointError` listing the first."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and k not in tied]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first: {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first: {', '.join(unexpected[:3])})")
        raise CheckpointError(f"{where}: weights do not match the model: " + "; ".join(parts))
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise CheckpointError(
                f"{where}: {key} has shape {tuple(tensor.shape)}, "
                f"the model expects {tuple(expected[key].shape)}"
            )
    module.load_state_dict(state, strict=False)


def _dedupe(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    seen: dict[tuple[int, int, tuple[int, ...]], str] = {}
    unique, tied = {}, {}
    for name, tensor in state.items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key in seen and tensor.numel() > 0:
            tied[name] = seen[key]
            continue
        seen[key] = name
        unique[name] = tensor.detach().contiguous()
    return unique, tied


def _split(state: dict[str, torch.Tensor], max_bytes: int) -> list[dict[str, torch.Tensor]]:
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in state.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += nbytes
    return shards


def _tied_from_metadata(file: Path) -> dict[str, str]:
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as handle:
            meta = handle.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{file}: unreadable safetensors file ({exc})") from None
    try:
        tied = parse_json(meta.get("tied", "{}"))
    except NotJson as exc:
        raise CheckpointError(f"{file}: its 'tied' metadata is not valid JSON ({exc.detail()})") from None
    if not isinstance(tied, dict):
        raise CheckpointError(f"{file}: its 'tied' metadata is not a JSON object")
    return tied
