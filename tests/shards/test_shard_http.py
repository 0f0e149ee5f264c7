"""Reading shards over HTTP (a folder served on 127.0.0.1): opening reads the index and the records only,
a shard is downloaded when one of its samples is read and only then, once; a URL that cannot be reached is
tried again with a doubling wait, then one error naming it."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

import mmbind.shards.remote as remote
from mmbind.data.records import parse_record
from mmbind.errors import ShardError
from mmbind.shards.cache import ShardCache
from mmbind.shards.source import open_shards
from tests.support.shards import serve

KEYS = ("image", "video")


@pytest.fixture
def quick_retries(monkeypatch) -> list[float]:
    """Retries without waiting; the waits asked for are recorded."""
    waits: list[float] = []
    monkeypatch.setattr(remote, "BACKOFF_S", 0.01)
    monkeypatch.setattr(remote.time, "sleep", waits.append)
    return waits


def _in_shard(source, folder: Path, position: int) -> int:
    counts = [s["nsamples"] for s in json.loads((folder / "index.json").read_text())["shardlist"]]
    start = sum(counts[:position])
    return next(i for i in range(start, start + counts[position])
                if any(k in source.samples[i] for k in KEYS))


def test_only_the_shards_read_are_downloaded_once(written, tmp_path):
    with serve(written) as (url, asked):
        source = open_shards(f"{url}/", ShardCache(tmp_path / "cache", 10**8), KEYS)
        assert asked == ["/index.json", "/samples.jsonl"]
        index = _in_shard(source, written, 2)
        record = parse_record(source, index)
        assert asked[2:] == ["/shard-000002.tar"]
        assert parse_record(source, index).media == record.media and len(asked) == 3  # cached
    local = open_shards(str(written), ShardCache(tmp_path / "local", 10**8), KEYS)
    for key, files in parse_record(local, index).media.items():
        assert [f.read_bytes() for f in record.media[key]] == [f.read_bytes() for f in files]


def test_an_unreachable_url_is_tried_again_then_one_error_naming_it(tmp_path, quick_retries):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/shards"
    with pytest.raises(ShardError) as caught:
        open_shards(url, ShardCache(tmp_path / "cache", 10**8), KEYS)
    assert str(caught.value).startswith(f"{url}/index.json: cannot be read after 4 attempts (")
    assert quick_retries == [0.01, 0.02, 0.04]


def test_a_shard_whose_server_went_away_is_one_error_naming_it(written, tmp_path, quick_retries):
    with serve(written) as (url, _):
        source = open_shards(url, ShardCache(tmp_path / "cache", 10**8), KEYS)
    with pytest.raises(ShardError) as caught:
        parse_record(source, _in_shard(source, written, 0))
    assert str(caught.value).startswith(f"{url}/shard-000000.tar: cannot be read after 4 attempts (")
    assert len(quick_retries) == 3
    assert not [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")]
