"""source_reader.py

Reading an original Video-LLaVA checkpoint directory (PKU-YuanGroup's ``LlavaLlamaForCausalLM``):
``config.json`` (``model_type: "llava"``). Its weights (``model.safetensors`` / ``pytorch_model.bin``, either
sharded; the released Video-LLaVA-7B has ``.bin`` shards) are found, shape-read and read one file at a time
by `mmbind.weightfiles.weight_files`, without holding them all in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmbind.convert.config_json import read_config_json
from mmbind.errors import ConversionError

MODEL_TYPE = "llava"  # config.json model_type of LlavaLlamaForCausalLM


def read_source_config(src: Path) -> dict[str, Any]:
    """The parsed ``src/config.json`` of an original Video-LLaVA checkpoint."""
    path, data = read_config_json(src, "an original Video-LLaVA checkpoint", "a Video-LLaVA checkpoint")
    model_type = data.get("model_type") if isinstance(data, dict) else None
    if model_type != MODEL_TYPE:
        hint = " (transformers' port: use 'mmbind convert hf')" if model_type == "video_llava" else ""
        raise ConversionError(
            f"{path}: model_type is {model_type!r}, expected {MODEL_TYPE!r} "
            f"(an original LlavaLlamaForCausalLM checkpoint){hint}"
        )
    return data
