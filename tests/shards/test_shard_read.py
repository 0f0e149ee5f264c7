"""Reading shards from a local folder: shards are unpacked into the cache on first use only, the cache stays
under its size (least recently used shards evicted), and bad input is one clear error: an index of another
format or tool, a truncated shard, a shard failing its checksum, a shard larger than the cache, a full
cache folder."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest

import mmbind.shards.unpack as unpack_module
from mmbind.data.records import parse_record
from mmbind.errors import ShardError, WriteError
from mmbind.shards.cache import ShardCache
from mmbind.shards.source import open_shards

KEYS = ("image", "video")


@pytest.fixture
def shards(written, tmp_path) -> Path:
    shutil.copytree(written, tmp_path / "shards")
    return tmp_path / "shards"


def _index(folder: Path) -> dict:
    return json.loads((folder / "index.json").read_text())


def _first_with_media(source, shard_position: int) -> int | None:
    """A sample of the shard at ``shard_position`` that has media (None: it holds text only)."""
    counts = [s["nsamples"] for s in _index(Path(source.path).parent)["shardlist"]]
    start = sum(counts[:shard_position])
    return next((i for i in range(start, start + counts[shard_position])
                 if any(k in source.samples[i] for k in KEYS)), None)


def test_a_shard_is_unpacked_on_first_use_only_and_read_in_place(shards, tmp_path):
    cache = ShardCache(tmp_path / "cache", 10**8)
    source = open_shards(str(shards), cache, KEYS)
    assert cache.used() == 0  # opening reads the index and records only
    record = parse_record(source, _first_with_media(source, 1))
    entries = [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and entries[0].name == _index(shards)["mmbind"]["shards"][1]["sha256"]
    path = next(iter(record.media.values()))[0]
    assert path.parent == entries[0]
    stamp = (entries[0] / ".entry.json").stat().st_mtime_ns
    assert parse_record(source, _first_with_media(source, 1)).media == record.media  # not unpacked again
    assert (entries[0] / ".entry.json").stat().st_mtime_ns >= stamp
    assert path.stat().st_mtime_ns <= stamp


def test_the_cache_stays_under_max_bytes_evicting_the_least_recently_used(shards, tmp_path):
    sizes = [s["size"] for s in _index(shards)["mmbind"]["shards"]]
    cache = ShardCache(tmp_path / "cache", max(sizes))  # room for about two shards
    source = open_shards(str(shards), cache, KEYS)
    first = parse_record(source, _first_with_media(source, 0))
    read = [i for i in (_first_with_media(source, p) for p in range(len(sizes))) if i is not None]
    assert len(read) >= 3
    for index in read:
        parse_record(source, index)
        assert 0 < cache.used() <= cache.max_bytes
    assert not next(iter(first.media.values()))[0].exists()  # shard 0 was evicted
    again = parse_record(source, _first_with_media(source, 0))  # and is unpacked again when read
    assert next(iter(again.media.values()))[0].is_file()


def test_a_shard_larger_than_the_cache_is_refused(shards, tmp_path):
    source = open_shards(str(shards), ShardCache(tmp_path / "cache", 100), KEYS)
    with pytest.raises(ShardError, match=r"shard-000000.tar: the shard is [\d,]+ bytes, more than the shard "
                                         r"cache may hold \(data.shard_cache.max_bytes: 100\)"):
        parse_record(source, _first_with_media(source, 0))


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_a_damaged_shard_is_one_error_naming_it_and_the_index(shards, tmp_path, damage):
    path = shards / "shard-000001.tar"
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 3]
    else:
        data[700] ^= 0xFF
    path.write_bytes(bytes(data))
    source = open_shards(str(shards), ShardCache(tmp_path / "cache", 10**8), KEYS)
    with pytest.raises(ShardError) as caught:
        parse_record(source, _first_with_media(source, 1))
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and str(shards / "index.json") in message
    assert ("truncated" if damage == "truncated" else "checksum mismatch") in message
    assert not [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]  # nothing kept


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda doc: doc["mmbind"].update(format=2),
     "shards of format version 2; this version of mmbind reads format 1"),
    (lambda doc: doc.pop("mmbind"), "a wids shard index without an 'mmbind' block (written by another tool)"),
    (lambda doc: doc.pop("__kind__"), "not a wids shard index (no \"__kind__\": \"wids-shard-index-v1\")"),
    (lambda doc: doc["shardlist"].pop(), "malformed shard index"),
])
def test_an_index_of_another_format_is_refused_saying_which(shards, tmp_path, edit, expected):
    document = _index(shards)
    edit(document)
    (shards / "index.json").write_text(json.dumps(document))
    with pytest.raises(ShardError) as caught:
        open_shards(str(shards), ShardCache(tmp_path / "cache", 10**8), KEYS)
    assert str(caught.value).startswith(f"{shards / 'index.json'}: {expected}")


def test_damaged_records_are_refused(shards, tmp_path):
    (shards / "samples.jsonl").write_text((shards / "samples.jsonl").read_text().replace("red", "blue"))
    with pytest.raises(ShardError, match="samples.jsonl: checksum mismatch with the index"):
        open_shards(str(shards), ShardCache(tmp_path / "cache", 10**8), KEYS)


def test_a_full_cache_folder_is_one_error_naming_it(shards, tmp_path, monkeypatch):
    class Full:
        def __init__(self, *_, **__) -> None:
            pass

        def write(self, _: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *_) -> None:
            pass

    monkeypatch.setattr(unpack_module, "open", Full, raising=False)
    cache = tmp_path / "cache"
    source = open_shards(str(shards), ShardCache(cache, 10**8), KEYS)
    with pytest.raises(WriteError) as caught:
        parse_record(source, _first_with_media(source, 0))
    assert str(caught.value) == f"cannot write the shard cache {cache}: no space left on the device (ENOSPC)"
    assert not list(cache.iterdir())  # the staging folder is gone
