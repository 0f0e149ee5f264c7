"""record.py

`Record`: one validated conversation sample (its id, media files by data key, alternating turns): what a
template renders into training segments. Datasets (`mmbind.data.records.parse_record`) make them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Record:
    """One validated sample."""

    id: str  # the sample's id (or FILE#INDEX when it has none)
    media: dict[str, tuple[Path, ...]]  # data key -> its files, in order of its <key> tags (keys with files)
    turns: tuple[tuple[str, str], ...]  # (role "human"|"gpt", text), alternating, starting with human

    def files(self, modality: str) -> tuple[Path, ...]:
        """The files of ``modality`` (empty when the sample has none)."""
        return self.media.get(modality, ())
