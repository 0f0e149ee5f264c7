"""standalone.py

Stand-alone encoders: built from a plugin spec outside the model (``align`` option ``encoder``), trained by
their stage and saved in ``RUN/stages/<name>/encoder/`` (``spec.json``: plugin, options, modality; the
plugin's artifacts; ``model.safetensors``). A separated baseline uses one as the image tower its video
encoder starts from, while the LLM sees a different image encoder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmbind.errors import CheckpointError
from mmbind.interfaces import BuildContext, Encoder
from mmbind.model.persist import load_weights_from
from mmbind.model.weights import save_state_dict
from mmbind.registry import Registry, default_registry
from mmbind.registry.modalities import modality_temporal

ENCODER_DIR = "encoder"
SPEC = "spec.json"


def build_standalone(
    plugin: str, options: dict[str, Any], modality: str, registry: Registry | None
) -> Encoder:
    """A fresh encoder from ``plugin`` with ``options`` (random or option-given weights)."""
    entry = (registry or default_registry()).get("encoder", plugin)
    validated = entry.options.model_validate(options)
    encoder = entry.build(validated, BuildContext(modality=modality, temporal=modality_temporal(modality)))  # type: ignore[call-arg,arg-type]
    encoder.modality = modality
    return encoder


def save_standalone(encoder: Encoder, plugin: str, options: dict[str, Any], directory: Path) -> None:
    """Write ``encoder`` (spec, artifacts, weights) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = {"plugin": plugin, "options": options, "modality": encoder.modality}
    (directory / SPEC).write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    encoder.save_artifacts(directory)
    save_state_dict({k: v.detach().cpu() for k, v in encoder.state_dict().items()}, directory)


def load_standalone(directory: Path, registry: Registry | None) -> Encoder:
    """Rebuild a saved stand-alone encoder and load its weights strictly."""
    if not (directory / SPEC).is_file():
        raise CheckpointError(f"{directory}: no stand-alone encoder ({SPEC} is missing)")
    spec = json.loads((directory / SPEC).read_text(encoding="utf-8"))
    entry = (registry or default_registry()).get("encoder", spec["plugin"])
    context = BuildContext(modality=spec["modality"], artifacts_dir=directory, load_weights=False,
                           temporal=modality_temporal(spec["modality"]))
    validated = entry.options.model_validate(spec["options"])
    encoder = entry.build(validated, context)  # type: ignore[call-arg,arg-type]
    encoder.modality = spec["modality"]
    load_weights_from(encoder, directory)
    return encoder
