"""context.py

`BuildContext`: what the host tells a plugin's ``build`` function besides the part's options.

Whether a modality's items have a time axis is decided here, in one place (`default_temporal`): the
``video`` recipe key is temporal, every other key is not. A plugin may let an option override it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TEMPORAL_MODALITIES = ("video",)  # recipe keys whose items are frame sequences (T, C, H, W) by default


def default_temporal(modality: str | None) -> bool:
    """Whether items of the recipe key ``modality`` are frame sequences (a plugin option may override)."""
    return modality in TEMPORAL_MODALITIES


@dataclass(frozen=True)
class BuildContext:
    """Where and how a part is being built."""

    modality: str | None = None  # recipe key this part serves ("image", "video", ...); None: LLM / shared
    # set when restoring a saved model: the part's saved artifacts live here
    artifacts_dir: Path | None = None
    load_weights: bool = True  # False when the host will load every weight itself (from_pretrained)
    temporal: bool | None = None  # items have a time axis; None: `default_temporal(modality)`

    def __post_init__(self) -> None:
        if self.temporal is None:
            object.__setattr__(self, "temporal", default_temporal(self.modality))

    @property
    def restoring(self) -> bool:
        """True when the part is rebuilt from a saved mmbind checkpoint."""
        return self.artifacts_dir is not None
