"""hf_config.py

Configuration mapping between transformers' `VideoLlavaConfig` and an mmbind recipe: two ``clip_vision``
encoders (image, video), one shared ``mlp2x_gelu`` projector, an ``hf_causal`` LLM, and back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import PreTrainedConfig, VideoLlavaConfig

from mmbind.errors import ConversionError

# transformers activation names (ACT2FN) -> the mlp2x_gelu projector's `act` values, and back
ACT_FROM_HF = {
    "gelu": "gelu",
    "gelu_pytorch_tanh": "gelu_tanh",
    "quick_gelu": "quick_gelu",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
}
ACT_TO_HF = {
    "gelu": "gelu",
    "gelu_tanh": "gelu_pytorch_tanh",
    "quick_gelu": "quick_gelu",
    "relu": "relu",
    "silu": "silu",
}
DEFAULT_NUM_FRAMES = 8  # Video-LLaVA's frame count, for video_seq_length when exporting

# generic PreTrainedConfig fields (bookkeeping, not architecture); model_type is handled per part
_BOOKKEEPING = frozenset(PreTrainedConfig().to_dict()) - {"model_type"}


def architecture_fields(config: PreTrainedConfig, keep_model_type: bool) -> dict[str, Any]:
    """``config`` as a plain dict of its architecture fields (bookkeeping keys dropped)."""
    fields = {k: v for k, v in config.to_dict().items() if k not in _BOOKKEEPING}
    if not keep_model_type:
        fields.pop("model_type", None)
    return fields


def recipe_dict(config: VideoLlavaConfig, tokenizer_dir: Path | None, name: str) -> dict[str, Any]:
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

    llm_options: dict[str, Any] = {"config": text}
    if tokenizer_dir is not None:
        llm_options["tokenizer"] = str(tokenizer_dir)
    return {
        "name": name,
        "model": {
            "encoders": {
                "image": encoder(config.vision_feature_select_strategy == "full"),
                "video": encoder(True),  # transformers keeps CLS for video frames whatever the strategy
            },
            "projector": {
                "plugin": "mlp2x_gelu",
                "shared": True,
                "options": {"act": act, "bias": bool(config.multimodal_projector_bias)},
            },
            "llm": {"plugin": "hf_causal", "options": llm_options},
            "placeholder_ids": {"image": config.image_token_index, "video": config.video_token_index},
        },
    }


def video_llava_config(
    vision: PreTrainedConfig,
    text: PreTrainedConfig,
    spec: dict[str, Any],
    placeholder_ids: dict[str, int],
    extra: dict[str, Any],
) -> VideoLlavaConfig:
    """The `VideoLlavaConfig` of an (already checked) mmbind model section ``spec``."""
    image_options = spec["encoders"]["image"]["options"]
    projector_options = spec["projector"]["options"]
    layer = image_options["select_layer"]
    full = bool(image_options.get("keep_cls"))
    patches = (vision.image_size // vision.patch_size) ** 2
    config = VideoLlavaConfig(
        vision_config={
            **architecture_fields(vision, keep_model_type=False),
            "model_type": "clip_vision_model",
        },
        text_config=architecture_fields(text, keep_model_type=True),
        image_token_index=placeholder_ids["image"],
        video_token_index=placeholder_ids["video"],
        projector_hidden_act=ACT_TO_HF[projector_options["act"]],
        vision_feature_select_strategy="full" if full else "default",
        vision_feature_layer=layer,
        image_seq_length=patches + int(full),
        video_seq_length=int(extra.get("video_seq_length", (patches + 1) * DEFAULT_NUM_FRAMES)),
        multimodal_projector_bias=bool(projector_options["bias"]),
        tie_word_embeddings=bool(getattr(text, "tie_word_embeddings", False)),
    )
    config.architectures = ["VideoLlavaForConditionalGeneration"]
    return config
