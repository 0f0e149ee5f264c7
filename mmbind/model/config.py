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
from mmbind.json_file import read_json

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
    def load(cls, directory: Path) -> MultimodalConfig:
        """Read ``mmbind_config.json`` from ``directory``."""
        path = directory / CONFIG_NAME
        if not path.is_file():
            raise CheckpointError(f"{directory}: not an mmbind checkpoint ({CONFIG_NAME} is missing)")
        data = read_json(path, CheckpointError)
        config = cls(**_checked_fields(data, path))
        if config.format_version > FORMAT_VERSION:
            raise CheckpointError(
                f"{path}: format_version {config.format_version} is newer than this mmbind "
                f"understands ({FORMAT_VERSION}); upgrade mmbind"
            )
        return config


def _checked_fields(data: Any, path: Path) -> dict[str, Any]:
    """The fields of a parsed ``mmbind_config.json``, each of the type it must have."""
    if not isinstance(data, dict):
        raise CheckpointError(
            f"{path}: unreadable mmbind config (expected a JSON object, got {type(data).__name__})"
        )
    missing = [key for key in ("model", "placeholder_ids") if key not in data]
    unknown = sorted(set(data) - {"model", "placeholder_ids", "name", "format_version", "extra"})
    if missing or unknown:
        what = f"missing {', '.join(missing)}" if missing else f"unknown field {unknown[0]}"
        raise CheckpointError(f"{path}: unreadable mmbind config ({what})")
    checks = {
        "model": isinstance(data["model"], dict) and isinstance(data["model"].get("encoders"), dict),
        "placeholder_ids": isinstance(data["placeholder_ids"], dict) and all(
            isinstance(k, str) and type(v) is int and v >= 0 for k, v in data["placeholder_ids"].items()
        ),
        "name": data.get("name") is None or isinstance(data.get("name"), str),
        "format_version": type(data.get("format_version", FORMAT_VERSION)) is int,
        "extra": isinstance(data.get("extra", {}), dict),
    }
    wanted = {
        "model": "an object with an 'encoders' object", "placeholder_ids": "an object of token ids",
        "name": "a string or null", "format_version": "an integer", "extra": "an object",
    }
    for field_name, ok in checks.items():
        if not ok:
            got = json.dumps(data.get(field_name))[:60]
            raise CheckpointError(f"{path}: {field_name}: expected {wanted[field_name]} (got {got})")
    return data
