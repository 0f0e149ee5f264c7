"""interop.py

Interop with transformers' `VideoLlavaForConditionalGeneration`:

- `convert_hf`: a Video-LLaVA checkpoint directory -> an mmbind checkpoint (image and video ``clip_vision``
  encoders, one shared ``mlp2x_gelu`` projector, an ``hf_causal`` LLM) with identical outputs.
- `export_hf`: an mmbind checkpoint of that exact layout -> a directory that
  ``VideoLlavaForConditionalGeneration.from_pretrained`` loads. The parts are read through their conversion
  capabilities (`Encoder.original_tower`, `Projector.original_projector`, `LLMBackend.hf_model`); a part
  without them cannot be exported, and the error names it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import VideoLlavaForConditionalGeneration

from mmbind.convert.destination import check_destination, staged_destination
from mmbind.convert.hf.config_mapping import port_recipe, video_llava_config
from mmbind.convert.hf.expressible import expressible_parts
from mmbind.convert.hf.port_reader import read_config
from mmbind.convert.hf.weight_transfer import hf_state, load_hf_weights
from mmbind.convert.tokenizer_files import has_tokenizer
from mmbind.errors import ConversionError, MmbindError
from mmbind.model import build_model, load_pretrained
from mmbind.model.weights import save_state_dict
from mmbind.recipe import recipe_from_dict
from mmbind.weightfiles import CONVERSION, iter_weights, standard_weight_files

SOURCE_TAG = "hf_video_llava"  # value of extra["converted_from"]


def convert_hf(src: str | Path, dst: str | Path, *, overwrite: bool = False) -> Path:
    """Convert the transformers Video-LLaVA checkpoint in ``src`` into an mmbind checkpoint in ``dst``
    (a non-empty ``dst`` only with ``overwrite``; never the source)."""
    src, dst = Path(src), Path(dst)
    check_destination(src, dst, overwrite)
    config = read_config(src)
    files = standard_weight_files(src, CONVERSION)
    tokenizer_dir = src if has_tokenizer(src) else None
    try:
        recipe = recipe_from_dict(
            port_recipe(config, tokenizer_dir, name=src.name), source=str(src / "config.json")
        )
        model = build_model(recipe)
    except ConversionError as exc:
        raise ConversionError(f"{src / 'config.json'}: {exc}") from None
    except MmbindError as exc:
        raise ConversionError(f"{src}: cannot be expressed as an mmbind model: {exc}") from None
    load_hf_weights(model, iter_weights(files, CONVERSION), where=str(src))
    model.config.extra = {
        "converted_from": SOURCE_TAG,
        "source": str(src.resolve()),
        "image_seq_length": config.image_seq_length,
        "video_seq_length": config.video_seq_length,
    }
    with staged_destination(src, dst, overwrite) as staging:
        model.save_pretrained(staging)
    return dst


def export_hf(src: str | Path, dst: str | Path, *, overwrite: bool = False) -> Path:
    """Write the mmbind checkpoint in ``src`` as a transformers Video-LLaVA checkpoint in ``dst`` (a non-empty
    ``dst`` only with ``overwrite``; never the source)."""
    src, dst = Path(src), Path(dst)
    check_destination(src, dst, overwrite)
    model = load_pretrained(src)
    try:
        tower, projector, llm = expressible_parts(model)
    except ConversionError as exc:
        raise ConversionError(f"{src}: not expressible as Video-LLaVA: {exc}") from None
    placeholder_ids, extra = model.config.placeholder_ids, model.config.extra
    config = video_llava_config(tower, projector, llm.config, placeholder_ids, extra)
    config.dtype = llm.dtype
    with torch.device("meta"):
        hf_keys = list(VideoLlavaForConditionalGeneration(config).state_dict())
    try:
        state = hf_state(model, hf_keys)
    except ConversionError as exc:
        raise ConversionError(f"{src}: {exc}") from None
    with staged_destination(src, dst, overwrite) as staging:
        config.save_pretrained(staging)
        llm.generation_config.save_pretrained(staging)
        save_state_dict(state, staging)
        if model.llm.tokenizer is not None:
            model.llm.tokenizer.save_pretrained(staging)
    return dst
