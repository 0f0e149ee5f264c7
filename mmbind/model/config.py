"""config.py

`MultimodalConfig`: what a saved mmbind model records besides its weights, so that it rebuilds exactly.
Round-trips through ``mmbind_config.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmbind.errors import CheckpointError

CONFIG_NAME = "mmbind_config.json"
FORMAT_VERSION = 1


@dataclass
class MultimodalConfig:
    """The resolved model section of a recipe plus the ids fixed when the model was built."""

    model: dict[str, Any]  # resolved `model:` section of the recipe (plugins and normalised options)
    placeholder_ids: dict[str, int]  # modality -> placeholder token id in input_ids
    name: str | None = None  # the recipe's name
    format_version: int = FORMAT_VERSION  # bumped on incompatible layout changes
    extra: dict[str, Any] = field(default_factory=dict)  # free-form provenance (e.g. converted from)

    @property
    def modalities(self) -> list[str]:
        """Modalities in recipe order."""
        return list(self.model["encoders"])

    def save(self, directory: Path) -> None:
        """Write ``mmbind_config.json`` into ``directory``."""
        (directory / CONFIG_NAME).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "MultimodalConfig":
        """Read ``mmbind_config.json`` from ``directory``."""
        path = directory / CONFIG_NAME
        if not path.is_file():
            raise CheckpointError(f"{directory}: not an mmbind checkpoint ({CONFIG_NAME} is missing)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            config = cls(**data)
        except (json.JSONDecodeError, TypeError) as exc:
            raise CheckpointError(f"{path}: unreadable mmbind config ({exc})") from None
        if config.format_version > FORMAT_VERSION:
            raise CheckpointError(
                f"{path}: format_version {config.format_version} is newer than this mmbind "
                f"understands ({FORMAT_VERSION}); upgrade mmbind"
            )
        return config
