"""source.py

A recipe's ``files: [{shards: FOLDER_OR_URL}]`` as a `SourceFile` (`open_shards`): its index is read and
checked (`index_file`), its records (``samples.jsonl``, checked against the index's sha256) are the
samples, in the shards' order, so that everything the data pipeline does with a JSON file's samples (mixing
by weight, the order for a seed, modality filters and grouping, duplicate ids, exact resume) is the same.
Its media are shard members: `ShardMembers` makes them local files on first use, one whole shard at a time
(read in place from a local folder, downloaded from a URL), unpacked into the `ShardCache`, so a rank only
fetches the shards of the samples it reads.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from hashlib import sha256
from pathlib import Path

from mmbind.data.records import SourceFile, read_source
from mmbind.errors import DataError, ShardError
from mmbind.json_file import NotJsonLine, parse_json, parse_json_lines
from mmbind.recipe.training_schema import DataFileSpec, ShardCacheSpec
from mmbind.shards.cache import ShardCache
from mmbind.shards.index_file import INDEX, KEY_DIGITS, ShardIndex, parse_index
from mmbind.shards.remote import is_remote, local_path, open_binary, read_bytes, with_retries
from mmbind.shards.unpack import unpack_shard


def index_location(location: str) -> str:
    """Where the index of the shards at ``location`` is (a folder or URL, or the index itself)."""
    if location.endswith(".json"):
        return location
    if is_remote(location):
        return location.rstrip("/") + "/" + INDEX
    return str(Path(local_path(location)) / INDEX)


def read_index(location: str) -> ShardIndex:
    """The checked index of the shards at ``location``."""
    where = index_location(location)
    try:
        document = parse_json(read_bytes(where))
    except ValueError as exc:
        raise ShardError(f"{where}: not valid JSON ({exc})") from None
    base = where.rsplit("/", 1)[0] if is_remote(where) else str(Path(local_path(where)).parent)
    return parse_index(document, where, base)


def read_records(index: ShardIndex) -> list[object]:
    """The records of ``index`` (checked against its sha256 and sample count)."""
    data = read_bytes(index.records_url)
    if sha256(data).hexdigest() != index.records_sha256:
        raise ShardError(f"{index.records_url}: checksum mismatch with the index {index.where}: the records "
                         "file is damaged or was replaced; write the shards again")
    try:
        records = parse_json_lines(data.decode("utf-8"))
    except (UnicodeDecodeError, NotJsonLine) as exc:
        raise ShardError(f"{index.records_url}: not valid JSON lines ({exc})") from None
    if len(records) != index.samples:
        raise ShardError(f"{index.records_url}: {len(records)} records, the index {index.where} lists "
                         f"{index.samples} samples")
    return records


class ShardMembers:
    """The media of a shard dataset as local files (`mmbind.data.records.MemberFiles`)."""

    def __init__(self, index: ShardIndex, cache: ShardCache) -> None:
        self.index = index
        self.cache = cache

    def local(self, names: tuple[Path, ...], where: str) -> tuple[Path, ...]:
        """The local files of the members ``names`` (``<key>.<data key>.<n>.<ext>``)."""
        out = []
        for name in names:
            key = name.name.split(".", 1)[0]
            if len(key) != KEY_DIGITS or not key.isdigit():
                raise DataError(f"{where}: {name.name!r} is not a member of the shards of {self.index.where}")
            path = self.folder(self.index.shard_of(int(key))) / name.name
            if not path.is_file():
                raise DataError(f"{where}: the shard {self.index.shards[self.index.shard_of(int(key))].url} "
                                f"has no member {name.name!r}")
            out.append(path)
        return tuple(out)

    def folder(self, position: int) -> Path:
        """The cache entry of shard ``position``, unpacked first when it is not there."""
        shard = self.index.shards[position]
        stamp = None if is_remote(shard.url) else _stamp(shard.url)
        found = self.cache.lookup(shard.sha256, stamp)
        if found is not None:
            return found
        self.cache.reserve(shard.size, shard.url)

        def fetch() -> Path:
            with self.cache.staging() as staging, open_binary(shard.url) as stream:
                unpack_shard(stream, staging, shard.sha256, shard.size, shard.url, self.index.where,
                             self.cache.directory)
                return self.cache.commit(staging, shard.sha256, stamp)

        return with_retries(shard.url, fetch)


def _stamp(path: str) -> str:
    """A local shard's path, size and modification time (a changed shard is unpacked again)."""
    try:
        stat = os.stat(local_path(path))
    except OSError as exc:
        raise ShardError(f"{path}: the shard cannot be read ({exc.strerror or exc})") from None
    return f"{os.path.abspath(local_path(path))}:{stat.st_size}:{stat.st_mtime_ns}"


def open_shards(
    location: str, cache: ShardCache, media_keys: Sequence[str] = (), foreign_keys: Collection[str] = (),
) -> SourceFile:
    """The shards at ``location`` as a `SourceFile` whose ``media_keys`` name media (``foreign_keys``:
    keys naming media that no encoder serves)."""
    index = read_index(location)
    records = read_records(index)
    return SourceFile(Path(index.where), records, {}, tuple(media_keys),
                      frozenset(foreign_keys) - set(media_keys), ShardMembers(index, cache))


def open_data_file(
    spec: DataFileSpec, media_keys: Sequence[str], foreign_keys: Collection[str], cache: ShardCacheSpec,
) -> SourceFile:
    """One file of a recipe's dataset: its JSON file (``path``) or its shards (``shards``, unpacked into
    the ``cache``)."""
    if spec.shards is not None:
        return open_shards(spec.shards, ShardCache(cache.dir, cache.max_bytes), media_keys, foreign_keys)
    assert spec.path is not None
    return read_source(spec.path, spec.roots(), media_keys, foreign_keys)
