"""encoder_helpers.py

Helpers for `Encoder` plugins whose tower encodes images and serves videos frame by frame (``clip_vision``,
``clip``, ``mae``, LanguageBind's): one item's pixel shape and token count, flattening videos to frames and
joining the frames' tokens frame-major, encoding frames in chunks of a bounded size (`in_chunks`, the
``chunk_frames`` option), dropping the CLS token, choosing the image or video transform, and reading
``select_layer`` / ``temporal`` options, and writing / reading a JSON artifact that describes the tower.
Public: plugins import them from ``mmbind.interfaces.encoder_helpers``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mmbind.errors import CheckpointError, PluginOptionsError
from mmbind.interfaces.context import BuildContext
from mmbind.json_file import NotJson, parse_json
from mmbind.media import ImageTransform, VideoTransform

TEMPORAL_OPTION_DOC = "items are frame sequences (T, 3, H, W); None: the host's default for the modality"
CHUNK_FRAMES_DOC = (
    "encode at most this many frames (of all items of a batch together; images count as frames) per tower "
    "call and join the results: the same output, activation memory bounded by the chunk instead of N * T; "
    "None or 0: all at once"
)


def is_temporal(option: bool | None, context: BuildContext) -> bool:
    """A ``temporal`` option if set, else what the host says of the modality (`BuildContext.temporal`)."""
    return bool(context.temporal) if option is None else option


def layer_list(select_layer: int | list[int]) -> list[int]:
    """A ``select_layer`` option (one layer, or several whose features are concatenated) as a list."""
    return [select_layer] if isinstance(select_layer, int) else list(select_layer)


def block_index(plugin: str, layer: int, num_blocks: int, holder: str = "tower") -> int:
    """A ``hidden_states``-style layer (``-1`` the last block, ``k > 0`` the k-th; ``0``, the embeddings, is
    not offered) as a 0-based block index; out of range is a `PluginOptionsError` naming ``plugin``."""
    if layer == 0 or not -num_blocks <= layer <= num_blocks:
        raise PluginOptionsError(
            f"{plugin}: options.select_layer {layer} is out of range for a {holder} of {num_blocks} blocks "
            f"(use -{num_blocks}..-1 or 1..{num_blocks})"
        )
    return num_blocks + layer if layer < 0 else layer - 1


def pixel_shape(size: int, video: bool) -> tuple[int | None, ...]:
    """The pixels of one item: ``(3, size, size)``, or ``(None, 3, size, size)`` for a video of any length."""
    return (None, 3, size, size) if video else (3, size, size)


def token_count(per_frame: int, video: bool, num_frames: int | None, default_frames: int = 1) -> int:
    """Tokens of one item: ``per_frame``, times the frame count for a video (``default_frames`` if None)."""
    return per_frame * (num_frames or default_frames) if video else per_frame


def flatten_frames(pixels: torch.Tensor, video: bool) -> torch.Tensor:
    """``(N, T, 3, H, W)`` videos as ``(N * T, 3, H, W)`` frames; images pass through."""
    return pixels.flatten(0, 1) if video else pixels


def in_chunks(
    fn: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor, size: int | None, dim: int = 0
) -> torch.Tensor:
    """``fn(inputs)``, computed on consecutive slices of at most ``size`` along ``dim``, joined along ``dim``.

    Equal to ``fn(inputs)`` when ``fn`` treats the slices independently (frames through an image tower) and
    keeps their length along ``dim``. ``size`` None or 0, or at least the length: one call. Results that
    need gradients are concatenated (autograd keeps them anyway; cat's backward only slices); otherwise
    each is copied into one preallocated output, so a single full-size result exists at a time. A negative
    ``size`` is a `ValueError`.
    """
    if size is not None and size < 0:
        raise ValueError(f"chunk size must be >= 0 (0 or None: no chunking), got {size}")
    length = inputs.shape[dim]
    if not size or size >= length:
        return fn(inputs)
    starts = range(0, length, size)
    first = fn(inputs.narrow(dim, 0, size))
    if first.shape[dim] != size:
        raise ValueError(f"in_chunks: fn must keep the length along dim {dim} ({size} -> {first.shape[dim]})")
    if first.requires_grad:
        rest = [fn(inputs.narrow(dim, start, min(size, length - start))) for start in starts[1:]]
        return torch.cat([first, *rest], dim=dim)
    shape = list(first.shape)
    shape[dim] = length
    out = first.new_empty(shape)
    out.narrow(dim, 0, size).copy_(first)
    del first
    for start in starts[1:]:
        step = min(size, length - start)
        out.narrow(dim, start, step).copy_(fn(inputs.narrow(dim, start, step)))
    return out


def frame_major(tokens: torch.Tensor, items: int) -> torch.Tensor:
    """``(N * T, L, D)`` frame tokens as ``(N, T * L, D)``: frame 0's tokens, then frame 1's, ..."""
    return tokens.reshape(items, -1, tokens.shape[-1])


def drop_cls(tokens: torch.Tensor, keep_cls: bool) -> torch.Tensor:
    """``(B, 1 + P, D)`` tokens without their leading CLS token unless ``keep_cls``."""
    return tokens if keep_cls else tokens[:, 1:]


def pixel_transform(
    video: bool, pad_to_square: bool = False, **fields: Any
) -> ImageTransform | VideoTransform:
    """`VideoTransform` for videos, else `ImageTransform` (with ``pad_to_square``); ``fields`` go to both."""
    return VideoTransform(**fields) if video else ImageTransform(**fields, pad_to_square=pad_to_square)


def write_json_artifact(directory: Path, name: str, spec: dict[str, Any]) -> None:
    """Save ``spec`` (what rebuilds the tower) as ``directory/name``."""
    (Path(directory) / name).write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")


def read_json_artifact(directory: str | Path, name: str, plugin: str) -> dict[str, Any]:
    """The spec `write_json_artifact` saved; a missing or unreadable file is a `CheckpointError`."""
    path = Path(directory) / name
    try:
        spec = parse_json(path.read_bytes())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing ({plugin} saves it with the model)") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: unreadable {plugin} artifact ({exc})") from None
    except NotJson as exc:
        raise CheckpointError(f"{path}: unreadable {plugin} artifact ({exc.detail()})") from None
    if not isinstance(spec, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(spec).__name__}")
    return spec
