"""videollava_io.py

Reading an original Video-LLaVA checkpoint directory (PKU-YuanGroup's ``LlavaLlamaForCausalLM``):
``config.json`` (``model_type: "llava"``), and its weights without holding them all in memory.

Weight layouts, in order of preference: ``model.safetensors``, ``model.safetensors.index.json`` + shards,
``pytorch_model.bin``, ``pytorch_model.bin.index.json`` + shards (the released Video-LLaVA-7B). The first
complete layout wins (the hub repository lists a safetensors index next to its ``.bin`` shards, so a
download may hold one index without its shards); when none is complete, the first missing shard is
named. ``.bin`` files are read with ``torch.load(weights_only=True)``, memory-mapped when they are zip
archives, so reading shapes first and tensors later costs little.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Iterator

import torch
from safetensors import SafetensorError, safe_open

from mmbind.errors import ConversionError

MODEL_TYPE = "llava"  # config.json model_type of LlavaLlamaForCausalLM
# (single file, index of shards) in order of preference
WEIGHT_LAYOUTS = (
    ("model.safetensors", "model.safetensors.index.json"),
    ("pytorch_model.bin", "pytorch_model.bin.index.json"),
)


def read_source_config(src: Path) -> dict[str, Any]:
    """The parsed ``src/config.json`` of an original Video-LLaVA checkpoint."""
    if not src.is_dir():
        raise ConversionError(f"{src}: not a directory (expected an original Video-LLaVA checkpoint)")
    path = src / "config.json"
    if not path.is_file():
        raise ConversionError(f"{src}: not a Video-LLaVA checkpoint (config.json is missing)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConversionError(f"{path}: not valid JSON ({exc})") from None
    model_type = data.get("model_type") if isinstance(data, dict) else None
    if model_type != MODEL_TYPE:
        hint = " (transformers' port: use 'mmbind convert hf')" if model_type == "video_llava" else ""
        raise ConversionError(
            f"{path}: model_type is {model_type!r}, expected {MODEL_TYPE!r} "
            f"(an original LlavaLlamaForCausalLM checkpoint){hint}"
        )
    return data


def weight_files(src: Path) -> list[Path]:
    """The weight files of the first complete layout in ``src``."""
    problem = None
    for single, index in WEIGHT_LAYOUTS:
        if (src / single).is_file():
            return [src / single]
        if (src / index).is_file():
            files = _shards(src / index)
            missing = [f for f in files if not f.is_file()]
            if not missing:
                return files
            problem = problem or f"{missing[0]}: weight shard listed in {index} is missing"
    if problem:
        raise ConversionError(problem)
    names = ", ".join(name for layout in WEIGHT_LAYOUTS for name in layout)
    raise ConversionError(f"{src}: no weights found (expected one of {names})")


def _shards(index: Path) -> list[Path]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ConversionError(f"{index}: not a valid weight index ({exc!r})") from None
    return [index.parent / name for name in names]


def read_shapes(files: list[Path]) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every tensor in ``files`` (safetensors headers; memory-mapped ``.bin``)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for file in files:
        if file.suffix == ".safetensors":
            try:
                with safe_open(str(file), framework="pt") as handle:
                    for key in handle.keys():
                        shapes[key] = tuple(handle.get_slice(key).get_shape())
            except (SafetensorError, OSError) as exc:
                raise ConversionError(f"{file}: unreadable weight file ({exc})") from None
        else:
            shapes.update({key: tuple(t.shape) for key, t in read_weight_file(file).items()})
    return shapes


def iter_weights(files: list[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) of every weight in ``files``, one file at a time."""
    for file in files:
        yield from read_weight_file(file).items()


def read_weight_file(file: Path) -> dict[str, torch.Tensor]:
    """The tensors of one ``.safetensors`` or ``.bin`` file (``.bin`` memory-mapped when possible)."""
    try:
        if file.suffix == ".safetensors":
            with safe_open(str(file), framework="pt") as handle:
                return {key: handle.get_tensor(key) for key in handle.keys()}
        state = torch.load(file, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(file))
    except Exception as exc:  # pickle, zip, safetensors and weights_only errors: all "unreadable"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(f"{file}: unreadable weight file ({reason})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConversionError(f"{file}: expected a state dict of tensors, found a {type(state).__name__}")
    return state
