"""media_readers.py

The media loaders of a run, one per data key: `media_readers` finds each modality's `MediaLoaderEntry`
(the ``mmbind_media_loaders`` hook; the core knows no modality by name), validates its options from the
recipe's ``data.media.<key>`` and builds a `MediaReader`. Options the recipe leaves out are filled from
``defaults`` (a run's ``data.video_frames`` / ``data.video_backend`` for the fields ``frames`` and
``backend`` of temporal loaders); ``overrides`` (``--frames`` of eval, chat, serve) replace them.

A reader's ``identity`` (the loader's name and validated options, unset ones left out) is part of the
feature-cache key, so changing how a modality is read is a cache miss. `guess_modality` names the modality
of a bare path from the loaders' suffixes (chat, infer, benchmark folders).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mmbind.errors import InputError, RecipeError
from mmbind.interfaces import MediaLoader
from mmbind.media.reader import require_file
from mmbind.recipe.media_options import loader_options
from mmbind.recipe.validation_errors import format_validation_error
from mmbind.registry import MediaLoaderEntry, Registry, default_registry
from mmbind.registry.modalities import loader_entry


@dataclass(frozen=True)
class MediaReader:
    """One data key's loader as a run uses it."""

    modality: str  # the data key
    loader: MediaLoader
    identity: str  # loader name + validated options (JSON), part of the feature-cache key

    @property
    def frames(self) -> int | None:
        """Time steps per item for a temporal encoder (None: no time axis)."""
        return self.loader.frames

    @property
    def frames_vary(self) -> bool:
        """Whether items differ in time steps (then `frames` is the most)."""
        return self.loader.frames_vary

    def frames_of(self, path: Path) -> int | None:
        """Time steps the item at ``path`` will have (`MediaError` when it cannot be read)."""
        return self.loader.frames_of(require_file(path, self.modality))

    def decoded_bytes(self, path: Path) -> int | None:
        """Bytes the item at ``path`` takes decoded, from its header (None: the loader cannot tell)."""
        return self.loader.decoded_bytes(require_file(path, self.modality))

    def load(self, path: Path) -> Any:
        """The decoded item at ``path``; `MediaError` naming the file when it is missing or unreadable."""
        return self.loader.load(require_file(path, self.modality))


def media_readers(
    modalities: Iterable[str], options: Mapping[str, Mapping[str, Any]] | None = None,
    defaults: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> dict[str, MediaReader]:
    """A `MediaReader` per data key of ``modalities`` (`RecipeError` for a key no loader reads, or for
    options its loader rejects)."""
    registry = registry or default_registry()
    readers = {}
    for modality in modalities:
        entry = loader_entry(modality, registry)
        if entry is None:
            known = ", ".join(registry.names("loader")) or "none"
            raise RecipeError(
                f"model.encoders.{modality}: no media loader reads data key {modality!r} (installed "
                f"loaders: {known}); a plugin contributes one through the mmbind_media_loaders hook"
            )
        readers[modality] = _reader(entry, modality, dict((options or {}).get(modality) or {}),
                                    defaults or {}, overrides or {})
    return readers


def _reader(entry: MediaLoaderEntry, modality: str, raw: dict[str, Any], defaults: Mapping[str, Any],
            overrides: Mapping[str, Any]) -> MediaReader:
    try:
        validated = loader_options(entry, raw, defaults, overrides)
    except ValidationError as exc:
        problems = format_validation_error(exc).replace("Value error, ", "")
        raise RecipeError(f"data.media.{modality}: invalid options for loader {entry.name!r}: {problems}") \
            from None
    # unset optional fields (None) are left out, so a loader gaining an option keeps its cache identities
    options = validated.model_dump(mode="json", exclude_none=True)
    identity = json.dumps({"loader": entry.name, "options": options}, sort_keys=True)
    return MediaReader(modality, entry.build(validated), identity)


def guess_modality(path: str | Path, modalities: Iterable[str] | None = None,
                   registry: Registry | None = None) -> str:
    """The modality of ``path`` by its suffix among the installed loaders (restricted to ``modalities``
    when given); `InputError` when no loader, or more than one, claims the suffix."""
    registry = registry or default_registry()
    suffix = Path(path).suffix.lower()
    names = list(modalities) if modalities is not None else registry.names("loader")
    claims = []
    for name in names:
        entry = loader_entry(name, registry)
        if entry is not None and suffix in entry.suffixes:
            claims.append(name)
    if len(claims) == 1:
        return claims[0]
    if claims:
        raise InputError(f"{path}: the suffix {suffix!r} is read by the loaders {' and '.join(claims)}; "
                         f"name the modality (KEY=PATH)")
    kind = f"{suffix} files" if suffix else "files without a suffix"
    raise InputError(f"{path}: no media loader of {', '.join(names) or 'none'} reads {kind}; name the "
                     f"modality (KEY=PATH)")


def row_media(
    row: Mapping[str, Any], base: Path, registry: Registry | None = None
) -> tuple[str | None, Path | None]:
    """The one media item of a question row (``mmbind infer`` inputs, benchmark question files): a key an
    installed loader reads (``"image"``, ``"video"``, ``"depth"`` ...) or ``"media"`` (its modality from
    the suffix), path relative to ``base``; (None, None) without one. `ValueError` for two items, a value
    that is not a path, or an unrecognised suffix."""
    loaders = set((registry or default_registry()).names("loader"))
    given = [k for k in row if (k in loaders or k == "media") and row.get(k)]
    if len(given) > 1:
        raise ValueError(f"more than one media item ({', '.join(given)})")
    if not given:
        return None, None
    ref = row[given[0]]
    if not isinstance(ref, str):
        raise ValueError(f"'{given[0]}' must be a path")
    path = Path(ref) if Path(ref).is_absolute() else base / ref
    if given[0] != "media":
        return given[0], path
    try:
        return guess_modality(path, registry=registry), path
    except InputError as exc:
        raise ValueError(str(exc)) from None
