"""tower_geometry.py

Geometry of Video-LLaVA's two LanguageBind towers. The original ``config.json`` names the towers only
(``mm_image_tower: LanguageBind/LanguageBind_Image``), so the geometry comes from a tower config the user
points at (a LanguageBind directory whose ``config.json`` has a ``vision_config``, or a bare
CLIPVisionConfig json) or, by default, from the released towers' (`RELEASED`). Either way it is checked
against the weights' shapes, which fix width, depth, MLP width, channels, patch, image size (position
count) and, for the video tower, the frame count (temporal embedding length); heads must divide the width.
In a tower's own checkpoint (a LanguageBind model, a bare tower) the tower is found by its patch embedding
(`bare_tower_shapes`), whatever prefix that checkpoint puts before it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmbind.errors import ConversionError
from mmbind.json_file import read_json

# LanguageBind_Image and LanguageBind_Video_merge: OpenCLIP ViT-L/14 at 224 px, 8 frames
RELEASED: dict[str, Any] = {
    "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
    "num_channels": 3, "patch_size": 14, "image_size": 224, "hidden_act": "gelu", "layer_norm_eps": 1e-5,
    "num_frames": 8,
}
GEOMETRY_FIELDS = tuple(RELEASED)  # the CLIPVisionConfig fields a tower config contributes
FRAMED = frozenset({"video"})  # Video-LLaVA's towers with a temporal embedding (num_frames)
PATCH_KEY = "embeddings.patch_embedding.weight"  # a CLIP ViT's patch embedding: where a tower starts
_LAYER = re.compile(r"^encoder\.layers\.(\d+)\.")


@dataclass
class TowerSpec:
    """Resolved geometry of one tower and where it was read."""

    fields: dict[str, Any]  # CLIPVisionConfig fields (num_frames for the video tower only)
    source: str  # where the geometry came from, for messages
    explicit: frozenset[str]  # fields the source states (the others are taken from the weights)
    given: bool  # True when the user pointed at a tower config


def tower_spec(path: Path | None, modality: str) -> TowerSpec:
    """The geometry in ``path`` (LanguageBind directory or json file), else the released towers'."""
    fields = dict(RELEASED)
    if modality not in FRAMED:
        fields.pop("num_frames")
    if path is None:
        source = "the released LanguageBind towers' geometry (ViT-L/14, 224 px)"
        return TowerSpec(fields, source, frozenset(fields), given=False)
    file = path / "config.json" if path.is_dir() else path
    if not file.is_file():
        raise ConversionError(
            f"{path}: no tower config (expected a directory with config.json or a .json file)"
        )
    data = read_json(file, ConversionError)
    vision = data.get("vision_config", data) if isinstance(data, dict) else None
    if not isinstance(vision, dict) or "hidden_size" not in vision:
        raise ConversionError(
            f"{file}: no CLIP vision config (expected 'vision_config' or CLIPVisionConfig fields)"
        )
    stated = {k: vision[k] for k in GEOMETRY_FIELDS if k in vision and k in fields}
    return TowerSpec({**fields, **stated}, str(file), frozenset(stated), given=True)


def bare_tower_shapes(shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """The shapes of the one CLIP ViT tower among a checkpoint's ``shapes``, renamed without the prefix the
    checkpoint puts before it (``vision_model.`` in a LanguageBind model, none in a bare tower); unchanged
    when no single tower is found (the geometry check then names what is missing)."""
    prefixes = {key[: -len(PATCH_KEY)] for key in shapes if key.endswith(PATCH_KEY)}
    if len(prefixes) != 1:
        return shapes
    prefix = prefixes.pop()
    return {key[len(prefix) :]: shape for key, shape in shapes.items() if key.startswith(prefix)}


def resolve_geometry(
    spec: TowerSpec, shapes: dict[str, tuple[int, ...]], modality: str, where: str, prefix: str = ""
) -> dict[str, Any]:
    """``spec``'s fields checked against the tower weights' ``shapes`` (bare names; ``prefix`` is shown in
    messages); fields the source does not state are taken from the weights. Contradictions raise."""
    fields = dict(spec.fields)
    flag = f"--{modality}-tower"
    hint = "" if spec.given else f"; pass {modality}_tower=DIR ({flag}) holding the tower's config.json"
    for field, (value, key) in _from_shapes(shapes, modality, where, prefix).items():
        if field not in fields:
            continue
        if field not in spec.explicit:
            fields[field] = value
        elif fields[field] != value:
            raise ConversionError(
                f"{where}: the {modality} tower weights have {field} {value} ({prefix}{key}) but "
                f"{spec.source} says {fields[field]}{hint}"
            )
    heads = fields["num_attention_heads"]
    if fields["hidden_size"] % heads:
        raise ConversionError(
            f"{spec.source}: num_attention_heads {heads} does not divide hidden_size {fields['hidden_size']}"
        )
    return fields


def _from_shapes(
    shapes: dict[str, tuple[int, ...]], modality: str, where: str, prefix: str
) -> dict[str, tuple[int, str]]:
    """(value, key it was read from) of every field the weights determine."""

    def shape(key: str) -> tuple[int, ...]:
        if key not in shapes:
            raise ConversionError(
                f"{where}: {prefix}{key} is missing (the {modality} tower's geometry is read from it)"
            )
        return shapes[key]

    patch_key, pos_key = PATCH_KEY, "embeddings.position_embedding.weight"
    width, channels, patch, _ = shape(patch_key)
    positions = shape(pos_key)[0] - 1
    grid = math.isqrt(positions)
    if grid * grid != positions:
        raise ConversionError(
            f"{where}: {prefix}{pos_key} has {positions} + 1 rows, not a square grid plus CLS"
        )
    layers = {int(m.group(1)) for key in shapes if (m := _LAYER.match(key))}
    found = {
        "hidden_size": (width, patch_key),
        "num_channels": (channels, patch_key),
        "patch_size": (patch, patch_key),
        "image_size": (grid * patch, pos_key),
        "num_hidden_layers": (len(layers), "encoder.layers.*"),
        "intermediate_size": (shape("encoder.layers.0.mlp.fc1.weight")[0], "encoder.layers.0.mlp.fc1.weight"),
    }
    temporal = "encoder.layers.0.temporal_embedding"
    if modality in FRAMED and temporal in shapes:
        found["num_frames"] = (shapes[temporal][1], temporal)
    return found
