"""build.py

Assembling the data side of a stage from the recipe and the model: the media specs (each encoder's
transform and expanded token count), the `ConversationDataset` over a named dataset's files, its
`EpochOrder` and the `Collator`.
"""

from __future__ import annotations

from typing import Any

from mmbind.data.collate import Collator
from mmbind.data.dataset import ConversationDataset, FeatureLookup
from mmbind.data.example import MediaSpec
from mmbind.data.records import keep_modalities, read_source
from mmbind.data.sampler import EpochOrder
from mmbind.data.usable import require_usable
from mmbind.errors import RecipeError
from mmbind.prompting.tokenize import ConversationTokenizer
from mmbind.recipe.training_schema import DatasetSpec, DataSpec, StageSpec


def media_specs(
    model: Any, video_frames: int, identities: dict[str, str] | None = None
) -> dict[str, MediaSpec]:
    """One `MediaSpec` per modality of ``model`` (identities: cache identity of frozen, cached encoders)."""
    specs = {}
    for modality, encoder in model.encoders.items():
        frames = video_frames if encoder.temporal else None
        tokens = model.projector_for(modality).output_tokens(encoder.tokens_per_item(frames))
        identity = (identities or {}).get(modality)
        specs[modality] = MediaSpec(modality, encoder.media_transform(), tokens, frames, identity)
    return specs


def pad_id(tokenizer: Any) -> int:
    """Padding id: the tokenizer's pad, else unk (Video-LLaVA), else 0."""
    for token_id in (tokenizer.pad_token_id, tokenizer.unk_token_id):
        if token_id is not None:
            return int(token_id)
    return 0


def stage_dataset(data: DataSpec, stage_name: str, dataset: str | None) -> DatasetSpec:
    """The dataset a stage reads: ``dataset``, else the one named like the stage."""
    return data.dataset_for(stage_name, dataset)


def build_stage_data(
    data: DataSpec, stage_name: str, stage: StageSpec, model: Any, cache: FeatureLookup | None = None,
    identities: dict[str, str] | None = None,
) -> tuple[ConversationDataset, EpochOrder, Collator]:
    """Dataset, epoch order and collator of one stage."""
    name = stage.dataset or stage_name
    spec = stage_dataset(data, stage_name, stage.dataset)
    sources = [keep_modalities(read_source(f.path, f.image_root, f.video_root), spec.modalities)
               for f in spec.files]
    tokenizer = ConversationTokenizer(model.llm.tokenizer, dict(model.config.placeholder_ids))
    dataset = ConversationDataset(
        sources, spec.template, tokenizer, media_specs(model, data.video_frames, identities),
        stage.max_length, data.video_backend, data.max_images, cache, stage.seed,
    )
    if cache is not None and data.num_workers > 0:  # workers are forked per epoch and inherit the digests,
        cache.prime(dataset.cached_media())  # so no epoch hashes every media file again to find its entry
    order = EpochOrder(
        [len(s.samples) for s in sources], [f.weight for f in spec.files], stage.global_batch, stage.seed,
        dataset.approx_length if stage.group_by_modality_length else None,
    )
    if len(order) == 0:
        raise RecipeError(f"stages.{stage_name}: dataset {name!r} has no samples")
    require_usable(dataset, f"stage {stage_name}: dataset {name!r}")
    return dataset, order, Collator(pad_id(model.llm.tokenizer), stage.packing)
