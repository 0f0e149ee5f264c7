"""source_config.py

The original Video-LLaVA ``config.json`` (a ``LlavaConfig``: Llama fields plus ``mm_*`` fields) read into
`SourceConfig`, and the mmbind recipe equivalent to it: ``languagebind_image`` / ``languagebind_video``
encoders, one shared ``mlp2x_gelu`` (or ``linear``) projector, an ``hf_causal`` Llama.

Field semantics follow the original code: ``mm_projector_type`` defaults to ``linear``;
``mm_vision_select_feature`` ``patch`` drops the image CLS, ``cls_patch`` keeps it (the video tower keeps
every frame's CLS whatever it says); ``mm_vision_select_layer`` applies to both towers;
``image_aspect_ratio: pad`` pads images to a square with the mean colour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import LlamaConfig

from mmbind.convert.architecture import architecture_fields
from mmbind.convert.model_recipe import recipe_dict
from mmbind.errors import ConversionError

PROJECTORS = ("linear", "mlp2x_gelu")  # supported mm_projector_type values
SELECT_FEATURES = {"patch": False, "cls_patch": True}  # mm_vision_select_feature -> keep the image CLS
ENCODER_PLUGINS = {"image": "languagebind_image", "video": "languagebind_video"}
_LEGACY_LLAMA = frozenset({"rope_theta", "rope_scaling"})  # 4.x names transformers still converts
_NOT_ARCHITECTURE = frozenset(
    {"model_type", "architectures", "_name_or_path", "transformers_version", "dtype"}
)


@dataclass
class SourceConfig:
    """What the conversion needs from the original ``config.json``."""

    llama: dict[str, Any]  # LlamaConfig architecture fields, model_type "llama"
    towers: dict[str, str]  # modality -> tower name in the config (image, video; in this order)
    projector: str  # mmbind projector plugin: "linear" or "mlp2x_gelu"
    select_layer: int  # mm_vision_select_layer, both towers
    image_keep_cls: bool  # mm_vision_select_feature == "cls_patch"
    pad_to_square: bool  # image_aspect_ratio == "pad"
    mm_hidden_size: int | None  # the towers' width the projector was built for

    @property
    def vocab_size(self) -> int:
        return int(self.llama["vocab_size"])


def parse_source_config(data: dict[str, Any], path: Path) -> SourceConfig:
    """`SourceConfig` of a ``llava`` config mapping read from ``path``; unsupported fields raise."""
    towers = {m: data[f"mm_{m}_tower"] for m in ENCODER_PLUGINS if data.get(f"mm_{m}_tower")}
    if not towers:
        raise ConversionError(f"{path}: neither mm_image_tower nor mm_video_tower is set (no vision towers)")
    if data.get("mm_use_im_start_end"):
        raise ConversionError(f"{path}: mm_use_im_start_end true (image start/end tokens) is not supported")
    feature = data.get("mm_vision_select_feature", "patch")
    if feature not in SELECT_FEATURES:
        raise ConversionError(
            f"{path}: mm_vision_select_feature {feature!r} is not supported ({', '.join(SELECT_FEATURES)})"
        )
    layer = data.get("mm_vision_select_layer")
    if not isinstance(layer, int):
        raise ConversionError(f"{path}: mm_vision_select_layer must be an integer, got {layer!r}")
    return SourceConfig(
        llama=_llama_fields(data, path),
        towers=towers,
        projector=_projector(data.get("mm_projector_type", "linear"), path),
        select_layer=layer,
        image_keep_cls=SELECT_FEATURES[feature],
        pad_to_square=data.get("image_aspect_ratio") == "pad",
        mm_hidden_size=data.get("mm_hidden_size"),
    )


def _projector(kind: Any, path: Path) -> str:
    match = re.fullmatch(r"mlp(\d+)x_gelu", str(kind))
    if kind == "linear" or (match and match.group(1) == "2"):
        return str(kind)
    raise ConversionError(
        f"{path}: mm_projector_type {kind!r} is not supported (supported: {', '.join(PROJECTORS)})"
    )


def _llama_fields(data: dict[str, Any], path: Path) -> dict[str, Any]:
    known = (frozenset(LlamaConfig().to_dict()) | _LEGACY_LLAMA) - _NOT_ARCHITECTURE
    try:
        fields = {k: v for k, v in data.items() if k in known and not (k in _LEGACY_LLAMA and v is None)}
        config = LlamaConfig(**fields)
    except Exception as exc:  # transformers' config validation raises several exception types
        raise ConversionError(f"{path}: invalid Llama fields ({exc})") from None
    return architecture_fields(config, keep_model_type=True)


def source_recipe(
    source: SourceConfig,
    geometry: dict[str, dict[str, Any]],
    tokenizer_dir: Path | None,
    name: str,
    llm_dtype: str,
) -> dict[str, Any]:
    """The mmbind recipe mapping of ``source`` with the towers' resolved ``geometry`` (by modality)."""
    encoders: dict[str, Any] = {}
    for modality, fields in geometry.items():
        config = {k: v for k, v in fields.items() if k != "num_frames"}
        options: dict[str, Any] = {
            "preset": "vit_l_14", "config": config, "select_layer": source.select_layer
        }
        if modality == "image":
            options |= {"keep_cls": source.image_keep_cls, "pad_to_square": source.pad_to_square}
        else:
            options |= {"keep_cls": True, "num_frames": fields["num_frames"]}
        encoders[modality] = {"plugin": ENCODER_PLUGINS[modality], "options": options}
    projector_options = {"bias": True} | ({"act": "gelu"} if source.projector == "mlp2x_gelu" else {})
    llm_options: dict[str, Any] = {"config": dict(source.llama), "dtype": llm_dtype}
    # without a tokenizer the placeholders follow the vocabulary; with one, build_model adds them
    placeholder_ids = None if tokenizer_dir is not None else {
        m: source.vocab_size + i for i, m in enumerate(geometry)
    }
    return recipe_dict(
        name, encoders, (source.projector, projector_options), llm_options, tokenizer_dir, placeholder_ids
    )
