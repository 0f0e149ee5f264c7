"""mmbind.data

Training data: LLaVA-format conversation files mixed with weights, conversation templates with exact label
masks, media loading, joint image/video/text batches (padded or packed) and resumable sample orders.
"""

from mmbind.data.build import build_stage_data, media_specs, pad_id
from mmbind.data.collate import Batch, Collator, MediaBatch
from mmbind.data.dataset import ConversationDataset
from mmbind.data.example import BadSample, Example, MediaItem, MediaSpec
from mmbind.data.records import Record, SourceFile, parse_record, read_source
from mmbind.data.sampler import EpochOrder, RankBatches, micro_batch
from mmbind.data.templates import VICUNA_SYSTEM, Segment, render
from mmbind.data.tokenize import IGNORE_INDEX, ConversationTokenizer, Tokenized, truncate

__all__ = [
    "IGNORE_INDEX",
    "VICUNA_SYSTEM",
    "BadSample",
    "Batch",
    "Collator",
    "ConversationDataset",
    "ConversationTokenizer",
    "EpochOrder",
    "Example",
    "MediaBatch",
    "MediaItem",
    "MediaSpec",
    "RankBatches",
    "Record",
    "Segment",
    "SourceFile",
    "Tokenized",
    "build_stage_data",
    "media_specs",
    "micro_batch",
    "pad_id",
    "parse_record",
    "read_source",
    "render",
    "truncate",
]
