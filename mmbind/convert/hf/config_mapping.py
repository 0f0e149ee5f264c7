"""config_mapping.py

Configuration mapping between transformers' `VideoLlavaConfig` and an mmbind recipe: two ``clip_vision``
encoders (image, video), one shared ``mlp2x_gelu`` projector, an ``hf_causal`` LLM, and back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import PreTrainedConfig, VideoLlavaConfig

from mmbind.convert.architecture import architecture_fields
from mmbind.convert.model_recipe import recipe_dict
from mmbind.errors import ConversionError
from mmbind.interfaces import OriginalProjector, OriginalTower

# transformers activation names (ACT2FN) -> the mlp2x_gelu projector's `act` values (the projector names
# its own in transformers' terms: `OriginalProjector.act`)
ACT_FROM_HF = {
    "gelu": "gelu",
    "gelu_pytorch_tanh": "gelu_tanh",
    "quick_gelu": "quick_gelu",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
}
DEFAULT_NUM_FRAMES = 8  # Video-LLaVA's frame count, for video_seq_length when exporting


def port_recipe(config: VideoLlavaConfig, tokenizer_dir: Path | None, name: str) -> dict[str, Any]:
    """The mmbind recipe mapping equivalent to a `VideoLlavaConfig`."""
    act = ACT_FROM_HF.get(config.projector_hidden_act)
    if act is None:
        supported = ", ".join(ACT_FROM_HF)
        raise ConversionError(
            f"projector_hidden_act {config.projector_hidden_act!r} has no mlp2x_gelu equivalent "
            f"(supported: {supported})"
        )
    vision = architecture_fields(config.vision_config, keep_model_type=False)
    text = architecture_fields(config.text_config, keep_model_type=True)
    text["tie_word_embeddings"] = bool(config.tie_word_embeddings)  # the composite config decides tying
    layer = config.vision_feature_layer
    layer = layer if isinstance(layer, int) else [int(i) for i in layer]

    def encoder(keep_cls: bool) -> dict[str, Any]:
        options = {"config": dict(vision), "select_layer": layer, "keep_cls": keep_cls}
        return {"plugin": "clip_vision", "options": options}

    encoders = {
        "image": encoder(config.vision_feature_select_strategy == "full"),
        "video": encoder(True),  # transformers keeps CLS for video frames whatever the strategy
    }
    projector = ("mlp2x_gelu", {"act": act, "bias": bool(config.multimodal_projector_bias)})
    placeholder_ids = {"image": config.image_token_index, "video": config.video_token_index}
    return recipe_dict(name, encoders, projector, {"config": text}, tokenizer_dir, placeholder_ids)


def video_llava_config(
    tower: OriginalTower,
    projector: OriginalProjector,
    text: PreTrainedConfig,
    placeholder_ids: dict[str, int],
    extra: dict[str, Any],
) -> VideoLlavaConfig:
    """The `VideoLlavaConfig` of an (already checked) mmbind model: its image ``tower``, its ``projector``
    and its LLM's config ``text``."""
    vision = tower.config
    patches = (vision.image_size // vision.patch_size) ** 2
    config = VideoLlavaConfig(
        vision_config={
            **architecture_fields(vision, keep_model_type=False),
            "model_type": "clip_vision_model",
        },
        text_config=architecture_fields(text, keep_model_type=True),
        image_token_index=placeholder_ids["image"],
        video_token_index=placeholder_ids["video"],
        projector_hidden_act=projector.act,
        vision_feature_select_strategy="full" if tower.keep_cls else "default",
        vision_feature_layer=tower.feature_layer,
        image_seq_length=patches + int(tower.keep_cls),
        video_seq_length=int(extra.get("video_seq_length", (patches + 1) * DEFAULT_NUM_FRAMES)),
        multimodal_projector_bias="0.bias" in projector.state,
        tie_word_embeddings=bool(getattr(text, "tie_word_embeddings", False)),
    )
    config.architectures = ["VideoLlavaForConditionalGeneration"]
    return config
