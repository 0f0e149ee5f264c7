"""mmbind.data

Training data: LLaVA-format conversation files mixed with weights, rendered and tokenised with
`mmbind.prompting`'s templates, media loading, joint image/video/text batches (padded or packed) and
resumable sample orders.
"""

from mmbind.data.build import build_stage_data, media_specs, pad_id
from mmbind.data.collate import Batch, Collator, MediaBatch
from mmbind.data.dataset import ConversationDataset
from mmbind.data.example import BadSample, Example, MediaItem, MediaSpec
from mmbind.data.records import Record, SourceFile, parse_record, read_source
from mmbind.data.sampler import EpochOrder, RankBatches, micro_batch

__all__ = [
    "BadSample",
    "Batch",
    "Collator",
    "ConversationDataset",
    "EpochOrder",
    "Example",
    "MediaBatch",
    "MediaItem",
    "MediaSpec",
    "RankBatches",
    "Record",
    "SourceFile",
    "build_stage_data",
    "media_specs",
    "micro_batch",
    "pad_id",
    "parse_record",
    "read_source",
]
