"""example.py

What the dataset hands to the collator: a tokenised `Example` with its media items (pixels, or cached
encoder features), a media-caption `Pair`, or a `BadSample` that names the sample and why it was skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from mmbind.errors import MmbindError

if TYPE_CHECKING:
    from mmbind.data.media_readers import MediaReader


@dataclass(frozen=True)
class MediaSpec:
    """How one modality's items are read, preprocessed and how many tokens each becomes."""

    modality: str  # the data key ("image", "video", "depth", ...)
    transform: Callable[[Any], torch.Tensor]  # the encoder's media_transform()
    tokens: int  # tokens per item after encoder and projector (the most, when frames vary by item)
    reader: MediaReader  # reads a file to the decoded item the transform takes
    cache_identity: str | None = None  # encoder + weights + preprocessing + loader; None: not cached
    tokens_at: Callable[[int], int] | None = None  # frames -> tokens, for temporal encoders

    def tokens_of(self, path: Path) -> int:
        """Tokens the item at ``path`` becomes (probing its frame count where that varies by item)."""
        if self.tokens_at is None or not self.reader.frames_vary:  # no per-item probe on the hot path
            return self.tokens
        frames = self.reader.frames_of(path)
        return self.tokens if frames is None or frames == self.reader.frames else self.tokens_at(frames)


@dataclass
class MediaItem:
    """One media item of a sample."""

    modality: str  # which encoder reads it
    pixels: torch.Tensor | None = None  # preprocessed pixels, when not cached
    features: torch.Tensor | None = None  # cached encoder output (L, D), when cached
    cache_key: str | None = None  # where to store the encoder output after a cache miss


@dataclass
class Example:
    """One tokenised sample with its media."""

    id: str  # sample id, for reports
    input_ids: torch.Tensor  # (S,) long, one placeholder per media item
    labels: torch.Tensor  # (S,) long, -100 where not supervised
    media: list[MediaItem] = field(default_factory=list)  # in order of appearance
    length: int = 0  # length after media expansion
    truncated: bool = False  # cut to max_length


@dataclass
class Pair:
    """One media item and its caption's token ids (the encoder pre-training stages' pairs)."""

    id: str  # sample id
    pixels: torch.Tensor  # (3, H, W) or (T, 3, H, W)
    text_ids: list[int]  # caption ids: BOS? + words + EOS, at most max_text tokens
    seed: int = 0  # seed of this item's randomness in this epoch (set by the dataset)


@dataclass(frozen=True)
class BadSample:
    """A sample that could not be used, with the reason."""

    id: str  # sample id (or FILE#INDEX)
    reason: str  # the error message


def bad_sample(sample: str, exc: BaseException) -> BadSample:
    """``exc`` raised while preparing ``sample`` as a `BadSample`: a typed mmbind error keeps its message,
    anything else (a tokenizer's or decoder's own exception) is named by its type; always one line."""
    message = str(exc) if isinstance(exc, MmbindError) else f"{type(exc).__name__}: {exc}"
    reason = " ".join(message.split()) or type(exc).__name__
    if not isinstance(exc, MmbindError) or sample not in reason:
        reason = f"sample {sample}: {reason}"
    return BadSample(sample, reason)
