"""`read_json`: user-supplied JSON files raise the caller's typed error naming the file."""

from __future__ import annotations

import pytest

from mmbind.errors import ConversionError, DataError
from mmbind.eval import load_set
from mmbind.json_file import read_json


def test_valid_json_is_parsed(tmp_path):
    (tmp_path / "a.json").write_text('{"x": [1, 2]}')
    assert read_json(tmp_path / "a.json", DataError) == {"x": [1, 2]}


def test_invalid_json_and_text_name_the_file(tmp_path):
    (tmp_path / "bad.json").write_text('{"x": 1,\n "y": }')
    with pytest.raises(DataError, match=r"bad\.json: not valid JSON \(Expecting value, line 2, column 7\)$"):
        read_json(tmp_path / "bad.json", DataError)
    (tmp_path / "latin.json").write_bytes(b'{"x": "\xe9"}')
    with pytest.raises(ConversionError, match=r"latin\.json: not valid JSON \(not UTF-8 text: invalid"):
        read_json(tmp_path / "latin.json", ConversionError)


def test_a_broken_eval_set_is_a_data_error(micro, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.json").write_text((micro / "manifest.json").read_text())
    (data / "eval").mkdir()
    (data / "eval" / "image_open.json").write_text("[{")
    with pytest.raises(DataError, match=r"image_open\.json: not valid JSON \(Expecting property name"):
        load_set(data, "image_open")


def test_dataset_files_json_and_jsonl(tmp_path):
    from mmbind.data.records import read_source

    good = tmp_path / "a.jsonl"
    good.write_text('{"id": 1}\n\n{"id": 2}\n')
    assert read_source(str(good)).samples == [{"id": 1}, {"id": 2}]
    (tmp_path / "b.jsonl").write_text('{"id": 1}\n\n{"id": \n')
    with pytest.raises(DataError, match=r"b\.jsonl: not valid JSON \(line 3: Expecting value\)$"):
        read_source(str(tmp_path / "b.jsonl"))
    (tmp_path / "c.json").write_bytes(b'[{"id": "\xff"}]')
    with pytest.raises(DataError, match=r"c\.json: not valid JSON \(not UTF-8 text"):
        read_source(str(tmp_path / "c.json"))
