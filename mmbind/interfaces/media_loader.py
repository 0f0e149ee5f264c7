"""media_loader.py

`MediaLoader`: files of one modality to decoded items, the input of an encoder's ``media_transform()``.

The host holds no list of modalities: every data key (``image``, ``video``, ``depth``, ``audio``, ...) is
read by the loader a plugin contributes for it through the ``mmbind_media_loaders`` hook (a
`mmbind.registry.MediaLoaderEntry`), first-party image and video loading included. A loader is built from
its validated options (e.g. the frames sampled per video, the seconds of audio) and answers one question:
what one file decodes to. A file it cannot read, or one of the wrong kind, raises `mmbind.errors.MediaError`
naming the file; the host then skips and reports the sample.

A loader that decodes untrusted files bounds what it allocates (`mmbind.media.limits`): it refuses a file
that would decode past its limits with `mmbind.media.limits.MediaTooLarge` before allocating, and tells the
size of a decoded item from the file's header (`decoded_bytes`), which ``mmbind serve`` sums per request
and reserves from its decoding budget before anything is decoded. First-party loaders name their limits
``max_pixels`` (an image, or a video frame), ``max_video_frames`` and ``max_audio_seconds``; a third-party
loader that declares options of these names gets them set by the same command-line flags.
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

    def decoded_bytes(self, path: Path) -> int | None:
        """Bytes the item at ``path`` takes once loaded, told from the file's header without decoding it
        (`MediaTooLarge` when it is over the loader's limits); None when the loader cannot tell (the
        default), so the server reserves its whole per-request budget for it."""
        return None

    @abstractmethod
    def load(self, path: Path) -> Any:
        """The decoded item at ``path`` (a PIL image, a ``(T, H, W, 3)`` frame array, a waveform ...), as
        the serving encoder's ``media_transform()`` takes it; `MediaError` when it cannot be read."""
