"""parts.py

`build_parts`: the parts a validated recipe describes, each built by its plugin (encoders by modality, the
projector(s), the LLM) with the model's config and placeholder ids: everything a `MultimodalLM` is made of
(`build.py` assembles them; `MultimodalLM.from_pretrained` rebuilds them from a saved model's artifacts).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from mmbind.errors import RecipeError
from mmbind.interfaces import BuildContext, Encoder, LLMBackend, Projector
from mmbind.model.config import MultimodalConfig
from mmbind.recipe import Recipe
from mmbind.registry import Registry, default_registry
from mmbind.registry.modalities import modality_temporal

SHARED = "shared"  # key of the single projector when ``projector.shared`` is true


@dataclass
class ModelParts:
    """What a `MultimodalLM` is built from."""

    config: MultimodalConfig  # the resolved model section and the placeholder ids
    encoders: dict[str, Encoder]  # modality -> encoder
    projectors: dict[str, Projector]  # modality (or SHARED) -> projector
    llm: LLMBackend


def build_parts(
    recipe: Recipe,
    registry: Registry | None = None,
    *,
    restore_from: Path | None = None,
    placeholder_ids: dict[str, int] | None = None,
) -> ModelParts:
    """Build the parts a recipe describes.

    ``restore_from`` rebuilds every part from the artifacts saved there without loading the parts' own
    weights; the caller then loads the saved state dict.
    """
    registry = registry or default_registry()
    spec = recipe.model
    with _seeded(spec.seed):
        llm = _build_llm(recipe, registry, restore_from)
        encoders = _build_encoders(recipe, registry, restore_from)
        projectors = _build_projectors(recipe, registry, encoders, llm.hidden_size)
    ids = placeholder_ids or spec.placeholder_ids or _default_placeholders(list(spec.encoders), llm)
    _check_placeholders(ids, list(spec.encoders), llm)
    config = MultimodalConfig(model=spec.model_dump(mode="json"), placeholder_ids=dict(ids), name=recipe.name)
    config.model["placeholder_ids"] = dict(ids)
    return ModelParts(config, encoders, projectors, llm)


def _context(restore_from: Path | None, sub: str, modality: str | None = None,
             registry: Registry | None = None) -> BuildContext:
    temporal = modality_temporal(modality, registry)
    if restore_from is None:
        return BuildContext(modality=modality, temporal=temporal)
    return BuildContext(modality=modality, artifacts_dir=restore_from / sub, load_weights=False,
                        temporal=temporal)


def _build_llm(recipe: Recipe, registry: Registry, restore_from: Path | None) -> LLMBackend:
    spec = recipe.model.llm
    entry = registry.get("llm", spec.plugin)
    return entry.build(entry.options.model_validate(spec.options), _context(restore_from, "llm"))  # type: ignore[call-arg,arg-type]


def _build_encoders(recipe: Recipe, registry: Registry, restore_from: Path | None) -> dict[str, Encoder]:
    encoders = {}
    for modality, spec in recipe.model.encoders.items():
        entry = registry.get("encoder", spec.plugin)
        options = entry.options.model_validate(spec.options)
        encoder = entry.build(options, _context(restore_from, f"encoders/{modality}", modality, registry))  # type: ignore[call-arg,arg-type]
        encoder.modality = modality
        encoders[modality] = encoder
    return encoders


def _build_projectors(
    recipe: Recipe, registry: Registry, encoders: dict[str, Encoder], out_dim: int
) -> dict[str, Projector]:
    spec = recipe.model.projector
    entry = registry.get("projector", spec.plugin)
    options = entry.options.model_validate(spec.options)
    widths = {m: e.output_dim for m, e in encoders.items()}
    if spec.shared:
        if len(set(widths.values())) > 1:
            shown = ", ".join(f"{m} {w}" for m, w in widths.items())
            raise RecipeError(
                f"model.projector.shared: one projector cannot serve encoders of different widths "
                f"({shown}); set shared: false"
            )
        width = next(iter(widths.values()))
        return {SHARED: entry.build(options, width, out_dim, BuildContext())}  # type: ignore[call-arg,arg-type]
    contexts = {m: BuildContext(modality=m, temporal=encoders[m].temporal) for m in widths}
    return {m: entry.build(options, w, out_dim, contexts[m]) for m, w in widths.items()}  # type: ignore[call-arg,arg-type]


def _default_placeholders(modalities: list[str], llm: LLMBackend) -> dict[str, int]:
    """``<modality>`` tokens of the tokenizer (added if missing), else the last ids of the vocabulary."""
    if llm.tokenizer is not None:
        ids = llm.add_tokens([f"<{m}>" for m in modalities])
        return dict(zip(modalities, ids))
    return {m: llm.vocab_size - 1 - i for i, m in enumerate(modalities)}


def _check_placeholders(ids: dict[str, int], modalities: list[str], llm: LLMBackend) -> None:
    missing = [m for m in modalities if m not in ids]
    if missing:
        raise RecipeError(f"model.placeholder_ids: no id for modality {', '.join(missing)}")
    if len(set(ids.values())) != len(ids):
        raise RecipeError(f"model.placeholder_ids: ids must differ per modality, got {ids}")
    for modality, token_id in ids.items():
        if token_id < 0:
            raise RecipeError(f"model.placeholder_ids.{modality}: must be >= 0, got {token_id}")


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
