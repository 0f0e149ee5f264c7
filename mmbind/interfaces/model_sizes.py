"""model_sizes.py

The sizes of a part's model config that must be positive: widths, depths, head counts, vocabulary and
image geometry (``hidden_size``, ``num_hidden_layers``, ``num_attention_heads``, timm's ``embed_dim`` /
``depth`` / ``num_heads``, OpenCLIP's ``width`` / ``layers`` / ``heads`` ...) are positive integers, MLP
ratios positive finite numbers. `size_problem` tells why a value cannot be such a size, and
`first_size_problem` finds the first bad one in a (nested) config mapping, so that a plugin's options
schema (and the core's text encoder of ``align`` stages) refuses ``hidden_size: -64`` when the recipe
loads, naming ``config.hidden_size``, instead of failing deep inside torch when the part is built.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

SIZE_KEYS = frozenset({
    # transformers' standard names (gpt2's n_embd, n_layer, n_head, n_positions map onto them)
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "head_dim", "vocab_size", "max_position_embeddings", "image_size", "patch_size", "num_channels",
    "projection_dim", "num_frames", "n_embd", "n_layer", "n_head", "n_positions", "n_inner",
    # timm's VisionTransformer keywords, OpenCLIP's vision_cfg
    "img_size", "embed_dim", "depth", "num_heads", "in_chans", "width", "layers", "heads", "head_width",
})
"""config keys whose value is a count or a width: a positive integer (None only where the default is)"""
RATIO_KEYS = frozenset({"mlp_ratio"})
"""config keys whose value is a positive, finite number"""


def size_problem(key: str, value: Any) -> str | None:
    """Why ``value`` cannot be the config's ``key`` (``"must be a positive integer"``), or None when it can
    (or ``key`` is not a size). None values pass: a config's optional sizes default to None (``head_dim``,
    ``n_inner``)."""
    if value is None:
        return None
    if key in SIZE_KEYS:
        if isinstance(value, (list, tuple)) and key in ("img_size", "image_size", "patch_size", "layers"):
            bad = [v for v in value if isinstance(v, bool) or not isinstance(v, int) or v <= 0]
            return None if value and not bad else "must be positive integers"
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            return "must be a positive integer"
    if key in RATIO_KEYS:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value > 0):
            return "must be a positive finite number"
    return None


def first_size_problem(
    config: Mapping[str, Any], at: tuple[str, ...] = ()
) -> tuple[tuple[str, ...], str] | None:
    """The first ``(path of keys, why)`` among ``config``'s sizes (nested mappings included, e.g. OpenCLIP's
    ``vision_cfg``), or None when all of them are positive."""
    for key, value in config.items():
        where = (*at, str(key))
        if isinstance(value, Mapping):
            found = first_size_problem(value, where)
            if found is not None:
                return found
            continue
        problem = size_problem(str(key), value)
        if problem is not None:
            return where, problem
    return None
