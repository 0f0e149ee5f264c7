"""media_input.py

Media in a chat request, read safely: a ``data:`` URI (base64; its MIME type must fit the part: one of the
types of the file suffixes its modality's loader claims, e.g. ``image/*`` for ``image_url``, ``video/*``
for ``video_url``; any type for a loader that claims no suffix, such as ``depth``) or a local path
(``file://`` or plain, relative to ``--media-root``) that must resolve, symlinks followed, to a readable
regular file inside ``--media-root``. Every local path a client may not read -- missing, outside the root
(by ``..``, an absolute path or a symlink pointing out; existing or not), not a regular file (a folder, a
device, a fifo) or unreadable -- gets one answer, 404 ``media_not_found`` echoing only the client's own
reference, so answers reveal nothing about the server's file system. A path is judged outside the root
lexically (normalised, before the file system is touched), then again with its symlinks resolved. A
server without ``--media-root`` refuses every local path (403 ``local_media_disabled``); a file inside the
root over the size limit is 413. Remote URLs are never fetched.

Memory is bounded before anything is decoded. The encoded size is checked against ``--max-media-mb``; then
the decoded size of every item of the request is told from its header (`MediaLoader.decoded_bytes`; the
loaders' own limits, ``--max-pixels`` ..., answer 413 here), their sum is checked against
``--max-decoded-mb`` (413), and reserved from the server's `DecodeBudget` (``--decode-budget-mb``) while the
items are decoded, so concurrent requests wait rather than decode past it. Each file is then read by its
modality's media loader (`mmbind.data.media_readers`: PIL / PyAV / ..., nothing is unpickled or executed)
and preprocessed with the encoder's ``media_transform()``. An LRU cache of preprocessed items, bounded in
bytes (``CACHE_BYTES``) and keyed by content hash (data URIs) or path, size and mtime (files), keeps
repeated media cheap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import os
import re
import stat
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from mmbind.data.media_readers import MediaReader
from mmbind.media.limits import MediaTooLarge
from mmbind.serve.decode_budget import DecodeBudget
from mmbind.serve.request_error import RequestError

CACHE_BYTES = 256 * 2**20  # preprocessed items kept for repeated media
DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?"
                      r"(?P<params>(;[\w.+-]+=[\w.+-]+)*)(?P<b64>;base64)?,",
                      re.ASCII)
SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp",
          "image/bmp": ".bmp", "video/mp4": ".mp4", "video/webm": ".webm", "video/x-matroska": ".mkv",
          "video/quicktime": ".mov", "video/x-msvideo": ".avi", "video/mpeg": ".mpg", "audio/wav": ".wav",
          "audio/x-wav": ".wav", "audio/flac": ".flac", "audio/mpeg": ".mp3", "audio/ogg": ".ogg"}


def media_types(suffixes: tuple[str, ...]) -> frozenset[str]:
    """The MIME major types (``image``, ``video``, ``audio`` ...) of files with ``suffixes``."""
    types = (mimetypes.guess_type(f"file{suffix}")[0] for suffix in suffixes)
    return frozenset(t.split("/")[0] for t in types if t)


@dataclass(frozen=True)
class _Source:
    """One media item of a request, located: a local file, or a data: URI's bytes (written to a temporary
    file only when they must be decoded: a cached item is not written)."""

    modality: str
    key: tuple[str, ...]  # the cache key
    name: str  # how messages name it ("the data: URI", or the file's name)
    path: Path | None = None  # the file the loader reads
    data: bytes | None = None  # a data: URI's bytes, until written
    suffix: str = ""  # of the file a data: URI's bytes are written to


class RequestMedia:
    """Turns the media references of a request into the encoders' input tensors, within the limits."""

    def __init__(self, transforms: dict[str, Callable[[Any], torch.Tensor]], readers: dict[str, MediaReader],
                 types: dict[str, frozenset[str]], media_root: Path | None, max_bytes: int,
                 max_decoded_bytes: int, budget: DecodeBudget) -> None:
        self.transforms = {m: t for m, t in transforms.items() if m in readers}  # modalities a loader reads
        self.readers = readers
        self.types = types  # per modality: MIME major types accepted in data: URIs (empty: any)
        self.root = media_root.resolve() if media_root is not None else None
        self.max_bytes = max_bytes  # one item, encoded
        self.max_decoded_bytes = max_decoded_bytes  # all items of a request, decoded
        self.budget = budget  # decoded bytes of all requests at once
        self._cache: OrderedDict[tuple[str, ...], tuple[torch.Tensor, int]] = OrderedDict()  # item, bytes
        self._cached_bytes = 0
        self._lock = threading.Lock()

    def read(self, modality: str, url: str) -> torch.Tensor:
        """The preprocessed item behind ``url`` (a RequestError naming the problem otherwise)."""
        return self.read_all([(modality, url)])[0]

    def read_all(self, refs: list[tuple[str, str]]) -> list[torch.Tensor]:
        """The preprocessed items behind ``refs`` ((modality, url) each): located and sized first, decoded
        only if the request's decoded total fits ``max_decoded_bytes`` and then the shared budget."""
        with ExitStack() as temporary:
            sources = [self._source(modality, url) for modality, url in refs]
            done = {s.key: item for s in sources if (item := self._cache_get(s.key)) is not None}
            todo = [_on_disk(s, temporary) for s in {s.key: s for s in sources if s.key not in done}.values()]
            sizes = [self._decoded_size(s) for s in todo]
            total = sum(sizes)
            if total > self.max_decoded_bytes:
                limit = f"{self.max_decoded_bytes:,} (--max-decoded-mb)"
                raise RequestError(413, f"the media of this request decode to {total:,} bytes, over the "
                                   f"limit of {limit}", "media_too_large")
            with self.budget.reserve(total):
                for source in todo:
                    done[source.key] = self._cache_put(source.key, self._load(source))
        return [done[s.key] for s in sources]

    # ------------------------------------------------------------------ sources
    def _source(self, modality: str, url: str) -> _Source:
        if modality not in self.transforms:
            known = ", ".join(f"{m}_url" for m in self.transforms)
            raise RequestError(400, f"this model takes no {modality} (content types it takes: text, {known})",
                               "unsupported_content_type")
        if url.startswith("data:"):
            data = self._decode_data_uri(modality, url)
            mime = _mime(url)
            suffix = SUFFIX.get(mime) or mimetypes.guess_extension(mime) or ".bin"
            key = (modality, hashlib.sha256(data).hexdigest())
            return _Source(modality, key, "the data: URI", data=data, suffix=suffix)
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url) and not url.startswith("file://"):
            raise RequestError(400, f"{modality}_url: only data: URIs and local paths are accepted, not "
                               f"{url.split(':', 1)[0]}: URLs", "unsupported_url")
        path, info = self._local_path(modality, url)
        key = (modality, str(path), str(info.st_size), str(info.st_mtime_ns))
        return _Source(modality, key, path.name, path=path)

    def _decode_data_uri(self, modality: str, url: str) -> bytes:
        head = DATA_URI.match(url)
        if head is None or not head.group("b64"):
            raise RequestError(400, f"{modality}_url: malformed data: URI (expected data:<type>;base64,...)",
                               "invalid_media")
        mime = head.group("mime") or ""
        accepted = self.types.get(modality) or frozenset()
        if accepted and mime.split("/")[0] not in accepted:
            expected = " or ".join(f"{t}/..." for t in sorted(accepted))
            raise RequestError(415, f"{modality}_url: unsupported media type {mime or 'none'!r} (expected "
                               f"{expected})", "unsupported_media_type")
        payload = url[head.end():]
        if len(payload) * 3 // 4 > self.max_bytes + 3:
            raise RequestError(413, f"{modality}_url: media larger than the limit of {self.max_bytes} bytes",
                               "media_too_large")
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(400, f"{modality}_url: the data: URI is not valid base64",
                               "invalid_media") from None

    def _local_path(self, modality: str, url: str) -> tuple[Path, os.stat_result]:
        """The readable regular file under the media root that ``url`` names, and its stat."""
        if self.root is None:
            raise RequestError(403, f"{modality}_url: local paths are not accepted (the server was started "
                               "without --media-root); send a data: URI", "local_media_disabled")
        ref = url[len("file://"):] if url.startswith("file://") else url
        if not ref or "\x00" in ref:
            raise RequestError(400, f"{modality}_url: empty or malformed path", "invalid_media")
        hidden = RequestError(404, f"{modality}_url: no media file {ref!r} under the media root",
                              "media_not_found")  # the one answer for every path the client may not read
        lexical = Path(os.path.normpath(self.root / ref))  # an absolute ref replaces the root
        if not lexical.is_relative_to(self.root):
            raise hidden  # decided without touching the file system
        try:
            real = lexical.resolve(strict=True)  # follows every symlink
            if not real.is_relative_to(self.root):
                raise hidden
            info = real.stat()
            if not stat.S_ISREG(info.st_mode):
                raise hidden  # a folder, device, fifo, socket: never opened
            with real.open("rb"):
                pass  # readable by this process
        except (OSError, RuntimeError):  # missing, a symlink loop, no permission, a name too long ...
            raise hidden from None
        if info.st_size > self.max_bytes:
            raise RequestError(413, f"{modality}_url: {ref!r} is larger than the limit of {self.max_bytes} "
                               "bytes", "media_too_large")
        return real, info

    # ------------------------------------------------------------------ sizing and loading
    def _decoded_size(self, source: _Source) -> int:
        """Bytes ``source`` decodes to, from its header; a loader that cannot tell counts as the whole
        per-request limit."""
        try:
            size = self.readers[source.modality].decoded_bytes(source.path)
        except Exception as exc:  # untrusted bytes: any failure to read the header is the request's fault
            raise self._unreadable(source, exc) from None
        return self.max_decoded_bytes if size is None else int(size)

    def _load(self, source: _Source) -> torch.Tensor:
        try:
            return self.transforms[source.modality](self.readers[source.modality].load(source.path))
        except Exception as exc:  # untrusted bytes: any decoder failure is the request's fault
            raise self._unreadable(source, exc) from None

    def _unreadable(self, source: _Source, exc: Exception) -> RequestError:
        text = str(exc)
        reason = text.replace(str(source.path), source.name).splitlines()[0] if text else type(exc).__name__
        if isinstance(exc, MediaTooLarge):
            return RequestError(413, f"{source.modality}_url: {reason}", "media_too_large")
        return RequestError(400, f"{source.modality}_url: cannot read {source.name} as {source.modality}: "
                            f"{reason}", "invalid_media")

    def _cache_get(self, key: tuple[str, ...]) -> torch.Tensor | None:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key][0]
        return None

    def _cache_put(self, key: tuple[str, ...], item: torch.Tensor) -> torch.Tensor:
        size = item.numel() * item.element_size() if isinstance(item, torch.Tensor) else 0
        with self._lock:
            if key not in self._cache and size <= CACHE_BYTES:
                self._cache[key] = (item, size)
                self._cached_bytes += size
                while self._cached_bytes > CACHE_BYTES:
                    self._cached_bytes -= self._cache.popitem(last=False)[1][1]
        return item


def _on_disk(source: _Source, temporary: ExitStack) -> _Source:
    """``source`` with a file to read: a data: URI's bytes written to a temporary folder that ``temporary``
    removes."""
    if source.data is None:
        return source
    folder = Path(temporary.enter_context(tempfile.TemporaryDirectory(prefix="mmbind-serve-")))
    path = folder / ("media" + source.suffix)
    path.write_bytes(source.data)
    return replace(source, path=path, data=None)


def _mime(url: str) -> str:
    head = DATA_URI.match(url)
    return (head.group("mime") or "") if head else ""
