"""context.py

`BuildContext`: what the host tells a plugin's ``build`` function besides the part's options.

Whether a modality's items have a time axis (``temporal``) is set by the host from the modality's media
loader (`mmbind.registry.MediaLoaderEntry.temporal`: the ``video`` loader says yes); a plugin may let an
option override it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BuildContext:
    """Where and how a part is being built."""

    modality: str | None = None  # recipe key this part serves ("image", "video", ...); None: LLM / shared
    # set when restoring a saved model: the part's saved artifacts live here
    artifacts_dir: Path | None = None
    load_weights: bool = True  # False when the host will load every weight itself (from_pretrained)
    temporal: bool = False  # items have a time axis (from the modality's media loader)

    @property
    def restoring(self) -> bool:
        """True when the part is rebuilt from a saved mmbind checkpoint."""
        return self.artifacts_dir is not None
