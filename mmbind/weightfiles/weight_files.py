"""weight_files.py

The one place that finds and reads weight files on local disk, for `read_state_dict` and the converters.

Layouts (transformers' names), in order of preference: ``model.safetensors``, ``model.safetensors.index.json``
+ shards, ``pytorch_model.bin``, ``pytorch_model.bin.index.json`` + shards. The first complete layout wins
(the hub's Video-LLaVA-7B lists a safetensors index next to its ``.bin`` shards, so a download may hold an
index without its shards); when none is complete, the first missing shard is named. One file is read
whole (``.safetensors``, or ``.bin`` / ``.pt`` / ``.pth`` / ``.ckpt`` with ``torch.load(weights_only=True)``,
memory-mapped when it is a zip archive), so iterating a sharded checkpoint holds one shard at a time;
`read_shapes` reads safetensors headers only. A top-level ``"model"`` / ``"state_dict"`` wrapper (training
checkpoints) is unwrapped. Errors are raised in the caller's `Wording` (`CHECKPOINT` or `CONVERSION`).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from mmbind.errors import CheckpointError, ConversionError, MmbindError
from mmbind.json_file import read_json

# (single file, index of shards) in order of preference
LAYOUTS = (
    ("model.safetensors", "model.safetensors.index.json"),
    ("pytorch_model.bin", "pytorch_model.bin.index.json"),
)
STANDARD_NAMES = tuple(name for layout in LAYOUTS for name in layout)
TORCH_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
WRAPPER_KEYS = ("state_dict", "model")  # checked in this order


@dataclass(frozen=True)
class Wording:
    """How weight-file errors reach a caller's users: the exception type and the phrases they know."""

    error: type[MmbindError]  # exception type raised
    shard: str  # what a shard is called in "<file>: <shard> listed in <index> is missing"
    unreadable: str  # "<file>: <unreadable> (<reason>)" for a safetensors file that does not parse


CHECKPOINT = Wording(CheckpointError, shard="shard", unreadable="unreadable safetensors file")
CONVERSION = Wording(ConversionError, shard="weight shard", unreadable="unreadable weight file")


def find_weight_files(directory: Path, wording: Wording = CHECKPOINT) -> list[Path] | None:
    """The files of the first complete layout in ``directory``; None when it holds no layout at all."""
    problem: MmbindError | None = None
    for single, index in LAYOUTS:
        if (directory / single).is_file():
            return [directory / single]
        if (directory / index).is_file():
            files = _listed_shards(directory / index, wording)
            missing = _missing_shard(files, index, wording)
            if missing is None:
                return files
            problem = problem or missing
    if problem is not None:
        raise problem
    return None


def standard_weight_files(directory: Path, wording: Wording = CHECKPOINT) -> list[Path]:
    """`find_weight_files`, where a directory without any standard layout is an error."""
    files = find_weight_files(directory, wording)
    if files is None:
        raise wording.error(f"{directory}: no weights found (expected one of {', '.join(STANDARD_NAMES)})")
    return files


def shard_files(index: Path, wording: Wording = CHECKPOINT) -> list[Path]:
    """The shard files that the ``*.index.json`` file ``index`` lists; every one must exist."""
    files = _listed_shards(index, wording)
    missing = _missing_shard(files, index.name, wording)
    if missing is not None:
        raise missing
    return files


def read_weight_file(file: Path, wording: Wording = CHECKPOINT) -> dict[str, torch.Tensor]:
    """The tensors of one weights file (a training checkpoint's wrapper removed), on the CPU."""
    if file.suffix == ".safetensors":
        try:
            obj = load_file(str(file))
        except (SafetensorError, OSError) as exc:
            raise wording.error(f"{file}: {wording.unreadable} ({exc})") from None
    elif file.suffix in TORCH_SUFFIXES:
        try:
            obj = torch.load(file, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(file))
        except Exception as exc:  # pickle, zip and weights_only errors all mean "not a readable state dict"
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise wording.error(
                f"{file}: cannot be read with torch.load(weights_only=True) ({reason})"
            ) from None
        if not isinstance(obj, dict):
            raise wording.error(f"{file}: holds a {type(obj).__name__}, not a state dict")
    else:
        known = f".safetensors, {', '.join(TORCH_SUFFIXES)} or *.index.json"
        raise wording.error(f"{file}: unknown weights format (expected {known})")
    return _as_state_dict(obj, file, wording)


def iter_weights(files: list[Path], wording: Wording = CHECKPOINT) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) of every weight in ``files``, one file in memory at a time."""
    for file in files:
        yield from read_weight_file(file, wording).items()


def read_shapes(files: list[Path], wording: Wording = CHECKPOINT) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in ``files`` (safetensors headers; memory-mapped ``.bin``)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for file in files:
        if file.suffix != ".safetensors":
            shapes.update({key: tuple(t.shape) for key, t in read_weight_file(file, wording).items()})
            continue
        try:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():
                    shapes[key] = tuple(handle.get_slice(key).get_shape())
        except (SafetensorError, OSError) as exc:
            raise wording.error(f"{file}: {wording.unreadable} ({exc})") from None
    return shapes


def _listed_shards(index: Path, wording: Wording) -> list[Path]:
    data = read_json(index, wording.error)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(n, str) and n for n in weight_map.values()):
        raise wording.error(f"{index}: not a shard index (no 'weight_map' object of tensor names to files)")
    names = sorted(set(weight_map.values()))
    if any(Path(n).name != n for n in names):
        raise wording.error(f"{index}: its 'weight_map' names a file outside its folder")
    return [index.parent / name for name in names]


def _missing_shard(files: list[Path], index_name: str, wording: Wording) -> MmbindError | None:
    missing = next((file for file in files if not file.is_file()), None)
    if missing is None:
        return None
    return wording.error(f"{missing}: {wording.shard} listed in {index_name} is missing")


def _as_state_dict(obj: dict, file: Path, wording: Wording) -> dict[str, torch.Tensor]:
    for key in WRAPPER_KEYS:
        if isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise wording.error(f"{file}: not a state dict: entry {key!r} holds a {type(value).__name__}")
    if not obj:
        raise wording.error(f"{file}: holds no tensors")
    return dict(obj)
