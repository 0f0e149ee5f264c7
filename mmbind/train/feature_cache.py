"""feature_cache.py

On-disk cache of frozen encoders' outputs (before the projector), one bf16 safetensors file per media item.
The key hashes the media file's bytes together with the encoder's identity: plugin and options, a hash of
its weights, its preprocessing, the media loader and its options (frames ...) and the compute precision;
changing any of them is a miss. In the reproducible numerics mode the key names the mode too, so entries
computed by the default mode's (machine-dependent) kernels are never read by it.
Later epochs, later stages and other runs (ablations sharing an encoder) reuse the entries; the data
loader then skips decoding entirely. Misses are rounded to bf16 as well (`TrainForward`), so a run trains
identically with a cold or a warm cache. Writes are atomic (temp file, then rename), so ranks and runs can
share one directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from mmbind.numerics.pin import pinned_threads

_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (memoised per process by path, size and mtime)."""
    stat = path.stat()
    memo = (str(path), stat.st_size, stat.st_mtime_ns)
    if memo not in _DIGESTS:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _DIGESTS[memo] = digest.hexdigest()
    return _DIGESTS[memo]


def weights_digest(module: torch.nn.Module) -> str:
    """sha256 over a module's state dict (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def encoder_identity(model: Any, modality: str, loader: str, precision: str) -> str:
    """Everything besides the media bytes that determines an encoder's output for one item (``loader``:
    the identity of the modality's media reader, its loader's name and options such as the frames)."""
    encoder = model.encoders[modality]
    parts = {
        "encoder": model.config.model["encoders"][modality],  # plugin + normalised options
        "weights": weights_digest(encoder),
        "preprocessing": repr(encoder.media_transform()),
        "loader": loader,
        "precision": precision,
    }
    threads = pinned_threads()
    if threads is not None:  # features computed by other kernels are other bits: never shared with them
        parts["numerics"] = f"reproducible threads={threads}"
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class FeatureCache:
    """A directory of cached encoder outputs."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def key(self, path: Path, identity: str) -> str:
        """Cache key of one media file under one encoder identity."""
        return hashlib.sha256(f"{file_digest(path)}:{identity}".encode()).hexdigest()

    def prime(self, paths: Iterable[Path]) -> None:
        """Hash ``paths`` now, in this process (DataLoader workers forked later inherit the digests)."""
        for path in dict.fromkeys(paths):
            if path.is_file():
                file_digest(path)

    def _file(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.safetensors"

    def load(self, key: str) -> torch.Tensor | None:
        """The cached ``(L, D)`` bf16 features, or None on a miss (an unreadable entry is a miss)."""
        file = self._file(key)
        if not file.is_file():
            return None
        try:
            return load_file(str(file))["features"]
        except (SafetensorError, OSError, KeyError):
            return None

    def store(self, key: str, features: torch.Tensor) -> None:
        """Write ``features`` (stored as bf16) atomically."""
        file = self._file(key)
        if file.is_file():
            return
        file.parent.mkdir(parents=True, exist_ok=True)
        tensor = features.detach().to("cpu", torch.bfloat16).contiguous()
        fd, tmp = tempfile.mkstemp(dir=file.parent, suffix=".tmp")
        os.close(fd)
        try:
            save_file({"features": tensor}, tmp)
            os.replace(tmp, file)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def size_bytes(self) -> int:
        """Bytes used by all entries."""
        return sum(f.stat().st_size for f in self.directory.glob("*/*.safetensors"))

    def entries(self) -> int:
        """Number of cached items."""
        return sum(1 for _ in self.directory.glob("*/*.safetensors"))
