"""source_weights.py

Strict transfer of an original Video-LLaVA checkpoint's weights into an mmbind model, one weight file in
memory at a time, into the tensors the model's parts declare under the source's names
(`source_keys.source_targets`). Every source key must land on a weight of the same shape and every weight
of the model must be provided; leftovers on either side are one `ConversionError` naming the first keys in
the source's own names (a model weight that no part declares, by its mmbind name). Tied embeddings (one
tensor under two names) count once; when the checkpoint stores both names, they must agree.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mmbind.convert.videollava.source_keys import skip_source_key, source_targets
from mmbind.convert.weight_matching import first_keys, storage_key, tied_groups
from mmbind.errors import ConversionError
from mmbind.model import MultimodalLM
from mmbind.weightfiles import CONVERSION, read_weight_file


def load_source_weights(
    model: MultimodalLM, files: list[Path], where: str, loaded_elsewhere: tuple[str, ...] = ()
) -> None:
    """Copy the weights in ``files`` into ``model``.

    ``loaded_elsewhere``: modalities whose encoder was already loaded from another source (a tower read
    from its own LanguageBind directory); the checkpoint must not provide them.
    """
    expected = source_targets(model, loaded_elsewhere)
    tied = tied_groups(expected)
    loaded: set[str] = set()
    unexpected: list[str] = []
    with torch.no_grad():
        for file in files:
            for key, tensor in read_weight_file(file, CONVERSION).items():
                if skip_source_key(key):
                    continue
                if key not in expected:
                    unexpected.append(key)
                    continue
                if tuple(tensor.shape) != tuple(expected[key].shape):
                    raise ConversionError(
                        f"{file}: {key} has shape {tuple(tensor.shape)}, the model that config.json "
                        f"describes expects {tuple(expected[key].shape)}"
                    )
                partner = next((o for o in tied[key] if o in loaded), None)
                if partner is not None and not torch.equal(expected[key], tensor.to(expected[key].dtype)):
                    raise ConversionError(
                        f"{where}: {key} and {partner} differ but tie_word_embeddings ties "
                        "them; set tie_word_embeddings to false in config.json"
                    )
                expected[key].copy_(tensor)
                loaded.add(key)
    missing = [key for key in expected if key not in loaded and not any(o in loaded for o in tied[key])]
    missing += _undeclared(model, expected, loaded_elsewhere)
    if missing or unexpected:
        parts = [first_keys(missing, "missing"), first_keys(unexpected, "unexpected")]
        detail = "; ".join(p for p in parts if p)
        raise ConversionError(f"{where}: weights do not match the Video-LLaVA layout: {detail}")


def _undeclared(
    model: MultimodalLM, targets: dict[str, torch.Tensor], loaded_elsewhere: tuple[str, ...]
) -> list[str]:
    """The model's weights (mmbind names) that no part declares under a source name: none is left unloaded."""
    declared = {storage_key(tensor) for tensor in targets.values()}
    elsewhere = tuple(f"encoders.{modality}." for modality in loaded_elsewhere)
    return [
        key
        for key, tensor in model.state_dict().items()
        if not key.startswith(elsewhere) and storage_key(tensor) not in declared
    ]
