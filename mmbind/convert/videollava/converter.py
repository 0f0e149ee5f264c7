"""converter.py

`convert_videollava`: an original Video-LLaVA checkpoint (PKU-YuanGroup's ``LlavaLlamaForCausalLM``,
e.g. ``LanguageBind/Video-LLaVA-7B``) -> an mmbind checkpoint with the same outputs. Unlike transformers'
port, the video tower keeps its temporal attention (``languagebind_video``).

Steps: read ``config.json`` (`source_config`); find the weights and their shapes (`mmbind.weightfiles`);
resolve each tower's geometry from a given tower config or the released one and check it against the
weights (`tower_geometry`); build the mmbind model from the equivalent recipe; load every weight
strictly (`source_weights`); save. Tower weights come from the checkpoint (the released one holds
copies) or, when it has none, from the given LanguageBind directories (through the encoder's
`Encoder.load_original_state`, which knows LanguageBind's layout). `projector_only` loads the
stage-1 ``mm_projector.bin``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from transformers import AutoTokenizer

from mmbind.convert.destination import check_destination, staged_destination
from mmbind.convert.tokenizer_files import has_tokenizer
from mmbind.convert.videollava.source_config import SourceConfig, parse_source_config, source_recipe
from mmbind.convert.videollava.source_keys import TOWER_PREFIXES
from mmbind.convert.videollava.source_reader import read_source_config
from mmbind.convert.videollava.source_weights import load_source_weights
from mmbind.convert.videollava.tower_geometry import bare_tower_shapes, resolve_geometry, tower_spec
from mmbind.errors import ConversionError, MmbindError
from mmbind.model import build_model
from mmbind.recipe import recipe_from_dict
from mmbind.weightfiles import CONVERSION, read_shapes, read_state_dict, standard_weight_files

SOURCE_TAG = "videollava"  # value of extra["converted_from"]
TEMPLATE = "llava_v1"  # the original's inference conversation template (mmbind.prompting)


def convert_videollava(
    src: str | Path,
    dst: str | Path,
    image_tower: str | Path | None = None,
    video_tower: str | Path | None = None,
    *,
    llm_dtype: Literal["float32", "bfloat16", "float16"] = "float32",
    overwrite: bool = False,
) -> Path:
    """Convert the original Video-LLaVA checkpoint in ``src`` into an mmbind checkpoint in ``dst``.

    ``image_tower`` / ``video_tower``: local LanguageBind directories (or tower config json files) giving
    the towers' geometry, and their weights when ``src`` holds none. When not given, the config's
    ``mm_image_tower`` / ``mm_video_tower`` are used if they name existing local directories.
    ``llm_dtype``: the LLM's parameter dtype (float32 is exact for any source; the released weights are
    bfloat16). A non-empty ``dst`` is replaced only with ``overwrite``; never the source.
    """
    src, dst = Path(src), Path(dst)
    check_destination(src, dst, overwrite)
    source = parse_source_config(read_source_config(src), src / "config.json")
    files = standard_weight_files(src, CONVERSION)
    shapes = read_shapes(files, CONVERSION)
    paths = {"image": image_tower, "video": video_tower}
    for modality, given in paths.items():
        if given is not None and modality not in source.towers:
            raise ConversionError(
                f"{src / 'config.json'}: names no {modality} tower, but {modality}_tower was given"
            )
    geometry: dict[str, dict[str, Any]] = {}
    external: dict[str, tuple[dict[str, torch.Tensor], str]] = {}  # towers whose weights come from their dir
    for modality in source.towers:
        given = paths[modality]
        tower_path = Path(given) if given is not None else configured_tower(src, source.towers[modality])
        geometry[modality], state = _tower(src, source, modality, tower_path, shapes)
        if state is not None:
            external[modality] = (state, str(tower_path))
    recipe = _recipe(src, source, geometry, llm_dtype)
    try:
        model = build_model(recipe)
    except MmbindError as exc:
        raise ConversionError(f"{src}: cannot be expressed as an mmbind model: {exc}") from None
    for modality, (state, where) in external.items():
        model.encoders[modality].load_original_state(state, where=where)  # LanguageBind's own layout
    load_source_weights(model, files, where=str(src), loaded_elsewhere=tuple(external))
    model.config.extra = _provenance(src, source, geometry, external)
    with staged_destination(src, dst, overwrite) as staging:
        model.save_pretrained(staging)
    return dst


def configured_tower(src: Path, name: str) -> Path | None:
    """The local directory that the config's ``mm_<modality>_tower`` names (as users set it after downloading
    the towers): the path itself (absolute, or relative to the working directory), else relative to ``src``;
    None when it names no existing directory (a hub name such as ``LanguageBind/LanguageBind_Image``)."""
    for candidate in (Path(name).expanduser(), src / name):
        if candidate.is_dir():
            return candidate
    return None


def _tower(
    src: Path, source: SourceConfig, modality: str, path: Path | None, shapes: dict[str, tuple[int, ...]]
) -> tuple[dict[str, Any], dict[str, torch.Tensor] | None]:
    """(resolved geometry, weights read from ``path`` or None when the checkpoint holds the tower)."""
    prefix = TOWER_PREFIXES[modality]
    spec = tower_spec(path, modality)
    inside = {key[len(prefix):]: shape for key, shape in shapes.items() if key.startswith(prefix)}
    if inside:
        fields = resolve_geometry(spec, inside, modality, str(src), prefix)
        state = None
    elif path is not None and path.is_dir():
        state = read_state_dict(path)
        own = bare_tower_shapes({key: tuple(value.shape) for key, value in state.items()})
        fields = resolve_geometry(spec, own, modality, str(path))
    else:
        raise ConversionError(
            f"{src}: the checkpoint holds no {modality} tower weights ({prefix}*); pass {modality}_tower=DIR "
            f"(--{modality}-tower), a local copy of {source.towers[modality]} with its weights"
        )
    if source.mm_hidden_size is not None and fields["hidden_size"] != source.mm_hidden_size:
        raise ConversionError(
            f"{src / 'config.json'}: mm_hidden_size is {source.mm_hidden_size} but the {modality} tower's "
            f"width is {fields['hidden_size']}"
        )
    return fields, state


def _recipe(src: Path, source: SourceConfig, geometry: dict[str, dict[str, Any]], llm_dtype: str) -> Any:
    tokenizer_dir = src if has_tokenizer(src) else None
    if tokenizer_dir is not None:
        _check_tokenizer(src)
    data = source_recipe(source, geometry, tokenizer_dir, name=src.resolve().name, llm_dtype=llm_dtype)
    try:
        return recipe_from_dict(data, source=str(src / "config.json"))
    except MmbindError as exc:
        raise ConversionError(f"{src}: cannot be expressed as an mmbind model: {exc}") from None


def _check_tokenizer(src: Path) -> None:
    """Fail early, with the reason, when the tokenizer files in ``src`` do not load."""
    try:
        AutoTokenizer.from_pretrained(src, local_files_only=True)
    except Exception as exc:  # missing sentencepiece, corrupt files, unknown classes: all "cannot load"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(
            f"{src}: the tokenizer files do not load ({reason}); a tokenizer.model without tokenizer.json "
            "needs the 'sentencepiece' package"
        ) from None


def _provenance(
    src: Path, source: SourceConfig, geometry: dict[str, dict[str, Any]], external: dict[str, Any]
) -> dict[str, Any]:
    """``extra`` recorded with the converted model."""
    extra: dict[str, Any] = {
        "converted_from": SOURCE_TAG,
        "source": str(src.resolve()),
        "towers": dict(source.towers),
        "tower_weights": {m: ("directory" if m in external else "checkpoint") for m in source.towers},
        "conversation_template": TEMPLATE,
    }
    for modality, fields in geometry.items():
        patches = (fields["image_size"] // fields["patch_size"]) ** 2
        if modality == "image":
            extra["image_seq_length"] = patches + int(source.image_keep_cls)
        else:
            extra["num_frames"] = fields["num_frames"]
            extra["video_seq_length"] = (patches + 1) * fields["num_frames"]
    return extra
