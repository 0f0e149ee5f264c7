"""items.py

`GeneratedMedia`: one generated image or video file with its scene and split, and the LLaVA-format helpers
shared by the training and evaluation record builders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmbind.synth.concepts import Scene


@dataclass(frozen=True)
class GeneratedMedia:
    """A generated media file."""

    id: str  # unique id, e.g. "train-image-00012"
    split: str  # "train" or "eval"
    path: str  # path relative to the split's folder, where its JSON files are (POSIX)
    scene: Scene  # what it shows

    @property
    def dataset_path(self) -> str:
        """Path relative to the dataset directory (evaluation media live under ``eval/``)."""
        return self.path if self.split == "train" else f"eval/{self.path}"

    @property
    def modality(self) -> str:
        """"image" or "video"."""
        return self.scene.modality


def human(text: str) -> dict[str, str]:
    """A human turn."""
    return {"from": "human", "value": text}


def gpt(text: str) -> dict[str, str]:
    """An assistant turn."""
    return {"from": "gpt", "value": text}


def record(
    item: GeneratedMedia | None, sample_id: str, turns: list[dict[str, str]], **fields: Any
) -> dict[str, Any]:
    """A LLaVA-format sample ``{"id", "image"|"video", ..., "conversations"}`` (no media key: text only)."""
    out: dict[str, Any] = {"id": sample_id}
    if item is not None:
        out[item.modality] = item.path
    out.update(fields)
    out["conversations"] = turns
    return out


def with_tag(item: GeneratedMedia, text: str) -> str:
    """``<image>\\ntext`` / ``<video>\\ntext`` (the first human turn of a media sample)."""
    return f"<{item.modality}>\n{text}"
