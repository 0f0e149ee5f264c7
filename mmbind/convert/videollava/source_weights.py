"""source_weights.py

Strict transfer of an original Video-LLaVA checkpoint's weights into an mmbind model, one weight file in
memory at a time (names mapped by `source_keys`). Every source key must land on a parameter of the
same shape and every parameter must be provided; leftovers on either side are one `ConversionError`
naming the first keys in the source's own names. Tied embeddings (one tensor under two names) count once;
when the checkpoint stores both names, they must agree.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mmbind.convert.videollava.source_keys import mmbind_to_source, skip_source_key, source_to_mmbind
from mmbind.convert.weight_matching import first_keys, tied_groups
from mmbind.errors import ConversionError
from mmbind.model import MultimodalLM
from mmbind.weightfiles import CONVERSION, read_weight_file


def load_source_weights(
    model: MultimodalLM, files: list[Path], where: str, loaded_elsewhere: tuple[str, ...] = ()
) -> None:
    """Copy the weights in ``files`` into ``model``.

    ``loaded_elsewhere``: mmbind name prefixes already loaded from another source (a tower read from its
    own LanguageBind directory); the checkpoint must not provide them.
    """
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith(loaded_elsewhere)}
    tied = tied_groups(expected)
    loaded: set[str] = set()
    unexpected: list[str] = []
    with torch.no_grad():
        for file in files:
            for key, tensor in read_weight_file(file, CONVERSION).items():
                if skip_source_key(key):
                    continue
                target = source_to_mmbind(key)
                if target not in expected:
                    unexpected.append(key)
                    continue
                if tuple(tensor.shape) != tuple(expected[target].shape):
                    raise ConversionError(
                        f"{file}: {key} has shape {tuple(tensor.shape)}, the model that config.json "
                        f"describes expects {tuple(expected[target].shape)}"
                    )
                partner = next((o for o in tied[target] if o in loaded), None)
                if partner is not None and not torch.equal(
                    expected[target], tensor.to(expected[target].dtype)
                ):
                    raise ConversionError(
                        f"{where}: {key} and {mmbind_to_source(partner)} differ but tie_word_embeddings ties "
                        "them; set tie_word_embeddings to false in config.json"
                    )
                expected[target].copy_(tensor)
                loaded.add(target)
    missing = [
        mmbind_to_source(key)
        for key in expected
        if key not in loaded and not any(other in loaded for other in tied[key])
    ]
    if missing or unexpected:
        parts = [first_keys(missing, "missing"), first_keys(unexpected, "unexpected")]
        detail = "; ".join(p for p in parts if p)
        raise ConversionError(f"{where}: weights do not match the Video-LLaVA layout: {detail}")

