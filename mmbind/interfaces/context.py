"""context.py

`BuildContext`: what the host tells a plugin's ``build`` function besides the part's options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BuildContext:
    """Where and how a part is being built."""

    modality: str | None = None  # the recipe key this encoder serves ("image", "video", ...); None for LLMs
    artifacts_dir: Path | None = None  # set when restoring a saved model: the part's saved artifacts live here
    load_weights: bool = True  # False when the host will load every weight itself (from_pretrained)

    @property
    def restoring(self) -> bool:
        """True when the part is rebuilt from a saved mmbind checkpoint."""
        return self.artifacts_dir is not None
