"""port_reader.py

Reading the ``config.json`` of a transformers Video-LLaVA checkpoint directory (must be ``video_llava``;
its weights are found and read by `mmbind.weightfiles.weight_files`, its tokenizer files told by
`mmbind.convert.tokenizer_files`). Every problem is a `ConversionError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

from transformers import VideoLlavaConfig

from mmbind.convert.config_json import read_config_json
from mmbind.errors import ConversionError

MODEL_TYPE = "video_llava"


def read_config(src: Path) -> VideoLlavaConfig:
    """The `VideoLlavaConfig` in ``src/config.json``."""
    path, data = read_config_json(src, "a Hugging Face Video-LLaVA checkpoint", "a Hugging Face checkpoint")
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

