"""presets.py

Tower geometries of LanguageBind's encoders, and the options and config handling both LanguageBind plugins
share.

``vit_l_14`` is the OpenCLIP ViT-L/14 geometry of every released LanguageBind image and video tower
(``LanguageBind_Image``, ``LanguageBind_Video_merge``): width 1024, 24 layers, 16 heads, MLP 4096, patch 14,
224 px, exact GELU, LayerNorm eps 1e-5, 8 frames. ``tiny`` is a 2-layer, width-32, 28 px tower for tests.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from mmbind import CheckpointError, PluginOptionsError
from mmbind.recipe.strict import StrictModel
from mmbind_plugins.hf_config import check_config

if TYPE_CHECKING:
    from transformers import CLIPVisionConfig

PRESETS: dict[str, dict[str, Any]] = {
    "vit_l_14": {
        "hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16,
        "patch_size": 14, "image_size": 224, "hidden_act": "gelu", "layer_norm_eps": 1e-5, "num_frames": 8,
    },
    "tiny": {
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "patch_size": 14, "image_size": 28, "hidden_act": "gelu", "layer_norm_eps": 1e-5, "num_frames": 4,
    },
}


class TowerOptions(StrictModel):
    """Options common to ``languagebind_image`` and ``languagebind_video``."""

    preset: Literal["tiny", "vit_l_14"] = "vit_l_14"  # tower geometry, see PRESETS
    config: dict[str, Any] = Field(default_factory=dict)  # CLIPVisionConfig fields overriding the preset
    weights: str | None = None  # local checkpoint file or directory (never downloaded); None: random init
    select_layer: int = -2  # hidden_states index whose tokens are returned (-2: Video-LLaVA's choice)
    frozen: bool = True  # requires_grad=False, as Video-LLaVA's towers
    attn_implementation: Literal["eager", "sdpa"] = "eager"  # kernel of transformers' CLIPAttention

    @model_validator(mode="after")
    def _valid_config(self) -> TowerOptions:
        """The tower's CLIPVisionConfig is built now, at recipe time (unknown keys, bad geometry)."""
        fields = {**PRESETS[self.preset], **self.config}
        fields.pop("num_frames", None)  # the video tower's own field, not CLIPVisionConfig's
        check_config("CLIPVisionConfig", fields, at=("config",))
        return self


def make_config(plugin: str, options: TowerOptions, video: bool, **fields: Any) -> CLIPVisionConfig:
    """The preset, updated with ``options.config`` then ``fields``, as a validated `CLIPVisionConfig`.

    ``num_frames`` (the length of the temporal embedding) is kept only for video towers.
    """
    from transformers import CLIPVisionConfig

    unknown = sorted(set(options.config) - _known_fields())
    if unknown:
        raise PluginOptionsError(f"{plugin}: config: unknown CLIPVisionConfig field(s) {', '.join(unknown)}")
    merged = {**PRESETS[options.preset], **options.config, **fields}
    if not video:
        merged.pop("num_frames", None)
    try:
        config = CLIPVisionConfig(**merged)
    except Exception as exc:  # transformers' strict-dataclass validation raises several exception types
        reason = str(exc).strip().splitlines()[-1].strip()
        raise PluginOptionsError(
            f"{plugin}: invalid tower config (preset {options.preset!r}): {reason}"
        ) from None
    config._attn_implementation = options.attn_implementation
    return config


@functools.lru_cache(maxsize=1)
def _known_fields() -> frozenset[str]:
    from transformers import CLIPVisionConfig

    return frozenset(CLIPVisionConfig().to_dict()) | {"num_frames"}


def restored_config(directory: Path, attn_implementation: str) -> CLIPVisionConfig:
    """The config a plugin saved with `save_artifacts`."""
    from transformers import CLIPVisionConfig

    if not (directory / "config.json").is_file():
        raise CheckpointError(f"{directory}: no config.json (the tower config saved with the model)")
    config = CLIPVisionConfig.from_pretrained(directory, local_files_only=True)
    config._attn_implementation = attn_implementation
    return config


def hidden_index(plugin: str, select_layer: int, num_layers: int) -> int:
    """``select_layer`` as a non-negative index into ``hidden_states`` (0: embeddings, L: last layer)."""
    if not -(num_layers + 1) <= select_layer <= num_layers:
        raise PluginOptionsError(
            f"{plugin}: select_layer {select_layer} is out of range for a {num_layers}-layer tower "
            f"(valid: {-(num_layers + 1)}..{num_layers})"
        )
    return select_layer % (num_layers + 1)
