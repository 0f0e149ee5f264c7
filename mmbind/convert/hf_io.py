"""hf_io.py

Reading a transformers Video-LLaVA checkpoint directory: ``config.json`` (must be ``video_llava``), the
weights (``model.safetensors``, ``pytorch_model.bin`` or either sharded with an index) and whether it
holds tokenizer files. Every problem is a `ConversionError` naming the file.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Iterator

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from transformers import VideoLlavaConfig

from mmbind.errors import ConversionError

MODEL_TYPE = "video_llava"
# (single file, index of shards) in order of preference
WEIGHT_LAYOUTS = (
    ("model.safetensors", "model.safetensors.index.json"),
    ("pytorch_model.bin", "pytorch_model.bin.index.json"),
)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def read_config(src: Path) -> VideoLlavaConfig:
    """The `VideoLlavaConfig` in ``src/config.json``."""
    if not src.is_dir():
        raise ConversionError(f"{src}: not a directory (expected a Hugging Face Video-LLaVA checkpoint)")
    path = src / "config.json"
    if not path.is_file():
        raise ConversionError(f"{src}: not a Hugging Face checkpoint (config.json is missing)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConversionError(f"{path}: not valid JSON ({exc})") from None
    model_type = data.get("model_type") if isinstance(data, dict) else None
    if model_type != MODEL_TYPE:
        raise ConversionError(
            f"{path}: model_type is {model_type!r}, expected {MODEL_TYPE!r} "
            "(a transformers VideoLlavaForConditionalGeneration checkpoint)"
        )
    try:
        return VideoLlavaConfig.from_dict(data)
    except (TypeError, ValueError, KeyError) as exc:
        raise ConversionError(f"{path}: invalid VideoLlavaConfig ({exc})") from None


def weight_files(src: Path) -> list[Path]:
    """The weight files of ``src``; every shard an index lists must exist."""
    for single, index in WEIGHT_LAYOUTS:
        if (src / single).is_file():
            return [src / single]
        if (src / index).is_file():
            return _shards(src / index)
    names = ", ".join(name for layout in WEIGHT_LAYOUTS for name in layout)
    raise ConversionError(f"{src}: no weights found (expected one of {names})")


def _shards(index: Path) -> list[Path]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        names = sorted(set(weight_map.values()))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ConversionError(f"{index}: not a valid weight index ({exc!r})") from None
    files = [index.parent / name for name in names]
    for file in files:
        if not file.is_file():
            raise ConversionError(f"{file}: weight shard listed in {index.name} is missing")
    return files


def iter_weights(files: list[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) of every weight in ``files``, one file in memory at a time."""
    for file in files:
        yield from _read(file).items()


def _read(file: Path) -> dict[str, torch.Tensor]:
    try:
        if file.suffix == ".safetensors":
            return load_file(str(file))
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (SafetensorError, OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise ConversionError(f"{file}: unreadable weight file ({exc})") from None
    if not isinstance(state, dict):
        raise ConversionError(f"{file}: expected a state dict, found a {type(state).__name__}")
    return state


def has_tokenizer(src: Path) -> bool:
    """True when ``src`` holds tokenizer files."""
    return any((src / name).is_file() for name in TOKENIZER_FILES)
