"""``mmbind data shard``: the shards hold the records and media of the JSON files in their order (wids
reads them), the samples left out are listed with the reason, an interrupted run continues and ends with the
shards an uninterrupted one writes, a folder holding anything else is refused, and the command's bad input
is one message with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mmbind.shards.write as write_module
from mmbind.data.records import parse_record, read_source
from mmbind.errors import OutputFolderError
from mmbind.prompting.templates import render
from mmbind.shards.cache import ShardCache
from mmbind.shards.source import open_shards
from tests.support.helpers import cli
from tests.support.shards import shard
from tests.support.train import make_data

KEYS = ("image", "video")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("data"), images=3, videos=3, text_only=2)


def test_shards_hold_the_records_and_media_of_the_json_in_order(data, tmp_path):
    report = shard(tmp_path / "shards", data / "finetune.json")
    assert report.shards >= 2 and report.bad == 0
    source = read_source(str(data / "finetune.json"), {}, KEYS)
    sharded = open_shards(str(tmp_path / "shards"), ShardCache(tmp_path / "cache", 10**8), KEYS)
    assert report.samples == len(sharded.samples) == len(source.samples) == 8
    for i in range(len(source.samples)):
        plain, from_shards = parse_record(source, i), parse_record(sharded, i)
        assert (from_shards.id, from_shards.turns) == (plain.id, plain.turns)
        assert list(from_shards.media) == list(plain.media)
        for key, files in plain.media.items():
            assert [f.read_bytes() for f in from_shards.media[key]] == [f.read_bytes() for f in files]
        assert render(from_shards, "vicuna_v1", KEYS) == render(plain, "vicuna_v1", KEYS)
    index = json.loads((tmp_path / "shards" / "index.json").read_text())
    assert index["__kind__"] == "wids-shard-index-v1" and index["mmbind"]["format"] == 1
    assert sum(s["nsamples"] for s in index["shardlist"]) == index["mmbind"]["samples"] == 8


def test_wids_reads_the_shards_by_index(data, tmp_path):
    from wids.wids import IndexedTarSamples

    shard(tmp_path / "shards", data / "finetune.json")
    samples = IndexedTarSamples(path=str(tmp_path / "shards" / "shard-000000.tar"))
    first = samples[0]
    record = json.loads(first[".json"].read())
    assert first["__key__"] == "000000000"
    assert record["id"] == json.loads((data / "finetune.json").read_text())[0]["id"]
    media = record.get("image") or record.get("video")
    assert f".{media.split('.', 1)[1]}" in first


def test_samples_left_out_are_listed_with_the_reason(data, tmp_path):
    good = json.loads((data / "finetune.json").read_text())
    image = next(s for s in good if "image" in s)
    bad = [{"id": "no-turns", "image": image["image"]},
           {**image, "id": "no-file", "image": "images/missing.png"},
           {**image},  # the same id as a sample before it
           ["not", "a", "record"]]
    (data / "mixed.json").write_text(json.dumps(good + bad))
    report = shard(tmp_path / "shards", data / "mixed.json")
    assert report.samples == len(good) and report.bad == 4
    rows = [json.loads(line) for line in (tmp_path / "shards" / "bad_samples.jsonl").read_text().splitlines()]
    reasons = {row["id"]: row["reason"] for row in rows}
    assert "'conversations' must be a non-empty list" in reasons["no-turns"]
    assert "media file not found" in reasons["no-file"] and "missing.png" in reasons["no-file"]
    assert "duplicate id" in reasons[image["id"]]
    assert "expected an object, got list" in reasons[f"mixed.json#{len(good) + 3}"]
    assert {row["file"] for row in rows} == {str(data / "mixed.json")}


def test_an_interrupted_run_continues_and_ends_with_the_shards_of_an_uninterrupted_one(data, tmp_path,
                                                                                       monkeypatch):
    full, cut = tmp_path / "a" / "shards", tmp_path / "b" / "shards"
    shard(full, data / "finetune.json")
    real = write_module.write_shard
    calls: list[Path] = []

    def interrupted_after_the_first(path: Path, samples):
        if calls:
            raise KeyboardInterrupt
        calls.append(path)
        return real(path, samples)

    monkeypatch.setattr(write_module, "write_shard", interrupted_after_the_first)
    with pytest.raises(KeyboardInterrupt):
        shard(cut, data / "finetune.json")
    monkeypatch.undo()
    assert not (cut / "index.json").exists() and (cut / "shard-000000.tar").is_file()
    first = (cut / "shard-000000.tar").stat().st_mtime_ns
    report = shard(cut, data / "finetune.json")
    assert report.kept == 1 and (cut / "shard-000000.tar").stat().st_mtime_ns == first
    names = sorted(p.name for p in full.iterdir())
    assert names == sorted(p.name for p in cut.iterdir()) and "shard-000001.tar" in names
    for name in names:
        assert (cut / name).read_bytes() == (full / name).read_bytes(), name


def test_a_damaged_shard_of_an_earlier_run_is_written_again(data, tmp_path):
    out = tmp_path / "shards"
    shard(out, data / "finetune.json")
    whole = (out / "shard-000000.tar").read_bytes()
    (out / "shard-000000.tar").write_bytes(whole[:1000])
    (out / "index.json").unlink()
    report = shard(out, data / "finetune.json")
    assert report.kept == report.shards - 1 and (out / "shard-000000.tar").read_bytes() == whole


def test_other_settings_or_other_files_are_refused_and_overwrite_starts_over(data, tmp_path):
    out = tmp_path / "shards"
    shard(out, data / "finetune.json")
    with pytest.raises(OutputFolderError, match="other inputs or settings; pass --overwrite"):
        shard(out, data / "finetune.json", shard_size=10**6)
    assert shard(out, data / "finetune.json", shard_size=10**6, overwrite=True).shards == 1
    assert not (out / "shard-000001.tar").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match="directory is not empty.*pass --overwrite"):
        shard(tmp_path / "mine", data / "finetune.json")


def test_the_command_writes_shards_and_refuses_bad_input_with_one_message(data, tmp_path, capsys):
    code, out, err = cli(capsys, "data", "shard", data / "finetune.json", "--out", tmp_path / "s",
                         "--shard-size", "6kB", "--no-progress")
    assert code == 0 and "8 samples in" in out and (tmp_path / "s" / "index.json").is_file()
    code, _, err = cli(capsys, "data", "shard", tmp_path / "missing.json", "--out", tmp_path / "t",
                       "--no-progress")
    assert code == 2 and err == f"error: {tmp_path / 'missing.json'}: dataset file not found"
    (tmp_path / "broken.json").write_text("[{")
    code, _, err = cli(capsys, "data", "shard", tmp_path / "broken.json", "--out", tmp_path / "t")
    assert code == 2 and err.startswith(f"error: {tmp_path / 'broken.json'}: not valid JSON")
    assert "Traceback" not in err
