"""media_loader.py

`MediaLoader`: files of one modality to decoded items, the input of an encoder's ``media_transform()``.

The host holds no list of modalities: every data key (``image``, ``video``, ``depth``, ``audio``, ...) is
read by the loader a plugin contributes for it through the ``mmbind_media_loaders`` hook (a
`mmbind.registry.MediaLoaderEntry`), first-party image and video loading included. A loader is built from
its validated options (e.g. the frames sampled per video, the seconds of audio) and answers one question:
what one file decodes to. A file it cannot read, or one of the wrong kind, raises `mmbind.errors.MediaError`
naming the file; the host then skips and reports the sample.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any


class MediaLoader(ABC):
    """Reads files of one modality; subclass and implement `load`."""

    @property
    def frames(self) -> int | None:
        """Time steps per item that a temporal encoder receives (its ``tokens_per_item(frames)``), e.g. the
        frames sampled per video (the most an item may have, when it varies by item); None for items without
        a time axis (the default)."""
        return None

    @property
    def frames_vary(self) -> bool:
        """Whether items differ in time steps (e.g. videos sampled by rate); `frames` is then the most."""
        return False

    def frames_of(self, path: Path) -> int | None:
        """Time steps the item at ``path`` will have once loaded, told without decoding it where the count
        varies by item (e.g. videos sampled by frame rate); by default `frames`."""
        return self.frames

    @abstractmethod
    def load(self, path: Path) -> Any:
        """The decoded item at ``path`` (a PIL image, a ``(T, H, W, 3)`` frame array, a waveform ...), as
        the serving encoder's ``media_transform()`` takes it; `MediaError` when it cannot be read."""
