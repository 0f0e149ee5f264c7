"""expressible.py

`expressible_parts`: what an mmbind model's parts declare for conversion (`Encoder.original_tower`,
`Projector.original_projector`, `LLMBackend.hf_model`), checked against what transformers' Video-LLaVA can
express: exactly an image and a video CLIP tower of one geometry, one feature layer, CLS kept for frames,
one shared ``mlp2x_gelu`` projector, a transformers LLM, placeholder ids inside its vocabulary. The first
part that does not fit (or cannot be converted at all) is one `ConversionError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from transformers import PreTrainedModel

from mmbind.convert.architecture import architecture_fields
from mmbind.convert.hf.weight_transfer import MODALITIES
from mmbind.errors import ConversionError
from mmbind.interfaces import OriginalProjector, OriginalTower
from mmbind.model import MultimodalLM
from mmbind.model.multimodal_lm import SHARED

T = TypeVar("T")


def expressible_parts(model: MultimodalLM) -> tuple[OriginalTower, OriginalProjector, PreTrainedModel]:
    """(image tower, projector, transformers LLM) as the parts declare them; a `ConversionError` names the
    first part Video-LLaVA cannot express."""
    encoders = model.encoders
    if sorted(encoders) != sorted(MODALITIES):
        raise ConversionError(
            "encoders: Video-LLaVA has exactly an 'image' and a 'video' encoder, "
            f"this model has: {', '.join(encoders)}"
        )
    towers = {m: _declared(f"encoders.{m}", encoders[m].original_tower) for m in MODALITIES}
    image, video = towers["image"], towers["video"]
    if image.feature_layer != video.feature_layer:
        raise ConversionError(
            f"encoders: select_layer differs between image ({image.feature_layer}) and video "
            f"({video.feature_layer}); Video-LLaVA uses one vision_feature_layer"
        )
    if not video.keep_cls:
        raise ConversionError(
            "encoders.video: keep_cls is false; Video-LLaVA always keeps the CLS token of frames"
        )
    fields = [architecture_fields(tower.config, False) for tower in (image, video)]
    if fields[0] != fields[1]:
        differing = sorted(k for k in set(fields[0]) | set(fields[1]) if fields[0].get(k) != fields[1].get(k))
        raise ConversionError(
            f"encoders: image and video towers differ ({', '.join(differing)}); "
            "Video-LLaVA has one vision_config"
        )
    projector = _declared("projector", model.projector_for("image").original_projector)
    shared = SHARED in model.projectors
    if projector.kind != "mlp2x_gelu" or not shared:
        kind = "shared" if shared else "per-modality"
        raise ConversionError(
            f"projector: a {kind} {projector.kind!r} projector; Video-LLaVA has one shared 'mlp2x_gelu'"
        )
    llm = _declared("llm", model.llm.hf_model)
    vocab = model.llm.vocab_size
    for modality, token_id in model.config.placeholder_ids.items():
        if token_id >= vocab:
            raise ConversionError(
                f"placeholder_ids.{modality}: id {token_id} lies outside the vocabulary ({vocab}); "
                "transformers looks placeholder ids up in the embedding table before replacing them, "
                "so rebuild with model.placeholder_ids inside the vocabulary"
            )
    return image, projector, llm


def _declared(where: str, capability: Callable[[], T]) -> T:
    """What a part's conversion capability returns; its `ConversionError` prefixed with ``where``."""
    try:
        return capability()
    except ConversionError as exc:
        raise ConversionError(f"{where}: {exc}") from None
