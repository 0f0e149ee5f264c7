"""build.py

Assembling the data side of a stage from the recipe and the model: the media readers (each data key's loader,
`media_readers`) and specs (each encoder's transform and expanded token count), the `ConversationDataset` over
a named dataset's files or shards (or the `PreferenceDataset` of its preference pairs), its `EpochOrder` and
the `Collator`. Before a stage starts, samples naming media that no encoder of the recipe serves are counted
per key (`check_foreign_media`): with ``on_bad_sample: fail`` that is one error naming the key, its files and
how many samples carry it; with ``skip`` those samples are skipped and counted like any bad sample.
"""

from __future__ import annotations

from typing import Any

from mmbind.data.collate import Collator
from mmbind.data.dataset import ConversationDataset, FeatureLookup
from mmbind.data.example import MediaSpec
from mmbind.data.media_readers import MediaReader, media_readers
from mmbind.data.preferences import PreferenceCollator, PreferenceDataset
from mmbind.data.records import SourceFile, drop_media, foreign_media, keep_modalities
from mmbind.data.sampler import EpochOrder
from mmbind.data.usable import require_usable
from mmbind.errors import DataError, RecipeError
from mmbind.prompting.tokenize import ConversationTokenizer
from mmbind.recipe.training_schema import DataFileSpec, DatasetSpec, DataSpec, ShardCacheSpec, StageSpec
from mmbind.registry import default_registry
from mmbind.shards.source import open_data_file


def run_readers(
    data: DataSpec | None, modalities: list[str], frames: int | None = None
) -> dict[str, MediaReader]:
    """The media readers of ``modalities`` under a recipe's ``data`` section (None: the loaders'
    defaults), ``frames`` (eval / chat ``--frames``) overriding the frames of temporal loaders."""
    options = data.media if data is not None else {}
    defaults = {"frames": data.video_frames, "backend": data.video_backend} if data is not None else {}
    return media_readers(modalities, options, defaults, {"frames": frames})


def item_frames(encoder: Any, reader: MediaReader) -> int | None:
    """Frames per item an encoder receives: its reader's for a temporal encoder (the most, when they vary
    by item), else None. `RecipeError` when the reader's frames do not fit an encoder that takes a fixed
    number of them (``item_shape`` starting with a number)."""
    fixed = encoder.item_shape[0] if encoder.item_shape and not encoder.temporal else None
    if reader.frames is not None and isinstance(fixed, int) and len(encoder.item_shape) == 4 and (
            reader.frames_vary or reader.frames != fixed):
        got = f"up to {reader.frames} (by rate)" if reader.frames_vary else str(reader.frames)
        raise RecipeError(f"model.encoders.{reader.modality}: the encoder takes exactly {fixed} frames per "
                          f"item, but data.media.{reader.modality} reads {got}; set frames: {fixed}")
    if not encoder.temporal:
        return None
    if reader.frames is None:
        raise RecipeError(f"model.encoders.{reader.modality}: the encoder has a time axis but the "
                          f"{reader.modality!r} loader reads items without frames")
    return reader.frames


def media_specs(
    model: Any, readers: dict[str, MediaReader], identities: dict[str, str] | None = None
) -> dict[str, MediaSpec]:
    """One `MediaSpec` per modality of ``model`` (identities: cache identity of frozen, cached encoders)."""
    specs = {}
    for modality, encoder in model.encoders.items():
        reader = readers[modality]
        frames = item_frames(encoder, reader)
        tokens = model.item_tokens(modality, frames)
        identity = (identities or {}).get(modality)
        at = None if frames is None else (lambda n, m=modality: int(model.item_tokens(m, n)))
        specs[modality] = MediaSpec(modality, encoder.media_transform(), tokens, reader, identity, at)
    return specs


def open_sources(
    files: list[DataFileSpec], media_keys: list[str], shard_cache: ShardCacheSpec | None = None
) -> list[SourceFile]:
    """The dataset files (JSON files or shards, those unpacked into ``shard_cache``), read with the
    recipe's modalities as their media keys (every installed loader's key that is not one of them names
    media no encoder serves)."""
    foreign = set(default_registry().names("loader")) - set(media_keys)
    cache = shard_cache or ShardCacheSpec()
    return [open_data_file(f, media_keys, foreign, cache) for f in files]


def check_foreign_media(sources: list[SourceFile], where: str) -> None:
    """`DataError` naming each data key that no encoder serves, a few of its files and how many samples
    carry it (call with ``on_bad_sample: fail``; otherwise such samples are skipped and counted)."""
    found: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    for source in sources:
        for raw in source.samples:
            for key in foreign_media(source, raw):
                counts[key] = counts.get(key, 0) + 1
                value = raw[key]
                found.setdefault(key, []).extend(value if isinstance(value, list) else [value])
    if counts:
        parts = []
        for key, count in sorted(counts.items()):
            files = found[key]
            shown = ", ".join(files[:3]) + (", ..." if len(files) > 3 else "")
            parts.append(f"data key {key!r} in {count} sample(s) (files: {shown})")
        served = ", ".join(sources[0].media_keys) or "none"
        raise DataError(f"{where}: {'; '.join(parts)} is served by no encoder of the recipe (encoders: "
                        f"{served}); add an encoder for it, or set data.on_bad_sample: skip to skip "
                        f"those samples")


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
    identities: dict[str, str] | None = None, readers: dict[str, MediaReader] | None = None,
    preferences: bool = False,
) -> tuple[ConversationDataset, EpochOrder, Collator | PreferenceCollator]:
    """Dataset, epoch order and collator of one stage (``readers``: the model's media readers, by
    default `run_readers` of ``data``); ``preferences``: the files hold preference pairs
    (`mmbind.data.preferences`)."""
    name = stage.dataset or stage_name
    spec = stage_dataset(data, stage_name, stage.dataset)
    modalities = list(model.encoders)
    sources = [keep_modalities(drop_media(s, spec.drop_media), spec.modalities)
               for s in open_sources(spec.files, modalities, data.shard_cache_spec())]
    if data.on_bad_sample == "fail":
        check_foreign_media(sources, f"stage {stage_name}: dataset {name!r}")
    tokenizer = ConversationTokenizer(model.llm.tokenizer, dict(model.config.placeholder_ids))
    specs = media_specs(model, readers or run_readers(data, modalities), identities)
    dataset = (PreferenceDataset if preferences else ConversationDataset)(
        sources, spec.template, tokenizer, specs, stage.max_length, data.max_images, cache, stage.seed,
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
    pad = pad_id(model.llm.tokenizer)
    return dataset, order, PreferenceCollator(pad) if preferences else Collator(pad, stage.packing)
