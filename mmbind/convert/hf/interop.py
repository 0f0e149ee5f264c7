"""interop.py

Interop with transformers' `VideoLlavaForConditionalGeneration`:

- `convert_hf`: a Video-LLaVA checkpoint directory -> an mmbind checkpoint (image and video ``clip_vision``
  encoders, one shared ``mlp2x_gelu`` projector, an ``hf_causal`` LLM) with identical outputs.
- `export_hf`: an mmbind checkpoint of that exact layout -> a directory that
  ``VideoLlavaForConditionalGeneration.from_pretrained`` loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import VideoLlavaForConditionalGeneration

from mmbind.convert.architecture import architecture_fields
from mmbind.convert.destination import check_destination, staged_destination
from mmbind.convert.hf.config_mapping import ACT_TO_HF, port_recipe, video_llava_config
from mmbind.convert.hf.port_reader import read_config
from mmbind.convert.hf.weight_transfer import hf_state, load_hf_weights
from mmbind.convert.tokenizer_files import has_tokenizer
from mmbind.errors import ConversionError, MmbindError
from mmbind.model import MultimodalLM, build_model, load_pretrained
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
        _check_expressible(model)
    except ConversionError as exc:
        raise ConversionError(f"{src}: not expressible as Video-LLaVA: {exc}") from None
    tower = model.encoders["image"].tower  # type: ignore[union-attr]  # both towers are identical (checked)
    llm = model.llm.model  # type: ignore[union-attr]
    config = video_llava_config(
        tower.config, llm.config, model.config.model, model.config.placeholder_ids, model.config.extra
    )
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


def _check_expressible(model: MultimodalLM) -> None:
    """Raise a `ConversionError` naming the first part Video-LLaVA cannot express."""
    spec: dict[str, Any] = model.config.model
    encoders = spec["encoders"]
    if sorted(encoders) != ["image", "video"]:
        raise ConversionError(
            "encoders: Video-LLaVA has exactly an 'image' and a 'video' encoder, "
            f"this model has: {', '.join(encoders)}"
        )
    for modality, part in encoders.items():
        if part["plugin"] != "clip_vision":
            raise ConversionError(f"encoders.{modality}: plugin {part['plugin']!r} is not 'clip_vision'")
    image_options, video_options = encoders["image"]["options"], encoders["video"]["options"]
    if image_options["select_layer"] != video_options["select_layer"]:
        raise ConversionError(
            f"encoders: select_layer differs between image ({image_options['select_layer']}) and video "
            f"({video_options['select_layer']}); Video-LLaVA uses one vision_feature_layer"
        )
    if video_options.get("keep_cls") is False:
        raise ConversionError(
            "encoders.video: keep_cls is false; Video-LLaVA always keeps the CLS token of frames"
        )
    towers = [
        architecture_fields(model.encoders[m].tower.config, False)  # type: ignore[union-attr]
        for m in ("image", "video")
    ]
    if towers[0] != towers[1]:
        differing = sorted(k for k in set(towers[0]) | set(towers[1]) if towers[0].get(k) != towers[1].get(k))
        raise ConversionError(
            f"encoders: image and video towers differ ({', '.join(differing)}); "
            "Video-LLaVA has one vision_config"
        )
    projector = spec["projector"]
    if projector["plugin"] != "mlp2x_gelu" or not projector["shared"]:
        kind = "shared" if projector["shared"] else "per-modality"
        raise ConversionError(
            f"projector: a {kind} {projector['plugin']!r} projector; Video-LLaVA has one shared 'mlp2x_gelu'"
        )
    if projector["options"]["act"] not in ACT_TO_HF:
        raise ConversionError(
            f"projector.options.act: {projector['options']['act']!r} has no transformers name"
        )
    if spec["llm"]["plugin"] != "hf_causal":
        raise ConversionError(f"llm: plugin {spec['llm']['plugin']!r} is not 'hf_causal'")
    vocab = model.llm.vocab_size
    for modality, token_id in model.config.placeholder_ids.items():
        if token_id >= vocab:
            raise ConversionError(
                f"placeholder_ids.{modality}: id {token_id} lies outside the vocabulary ({vocab}); "
                "transformers looks placeholder ids up in the embedding table before replacing them, "
                "so rebuild with model.placeholder_ids inside the vocabulary"
            )
