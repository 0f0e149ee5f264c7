"""Checkpoint metadata under hostile input: an mmbind checkpoint whose ``mmbind_config.json`` or shard
index (``model.safetensors.index.json``) is not JSON, nested thousands deep, has huge integers, lacks
``weight_map`` or names files outside its folder is refused with one `CheckpointError` naming the file,
by the loader and by a command pointed at it (exit status 1, one line, no traceback)."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmbind.errors import CheckpointError, MmbindError
from tests.support.fuzz import PROFILE, hostile_text, values

FUZZ = settings.get_profile(PROFILE)
INDEX = "model.safetensors.index.json"


@pytest.fixture(scope="module")
def checkpoint(run, tmp_path_factory):
    """A copy of the run's checkpoint, and the text of its config."""
    from mmbind.inference import resolve_target

    copy = tmp_path_factory.mktemp("ckpt") / "model"
    shutil.copytree(resolve_target(run).model_dir, copy)
    return copy


def _index_variants():
    return (hostile_text('{"weight_map": {}}') | hostile_text('{"metadata": {}, "weight_map": {"a": "x"}}')
            | st.sampled_from(['{"metadata": {}}', '{"weight_map": {"a": "../model.safetensors"}}',
                               '{"weight_map": {"a": 3}}', "[]"]) | values.map(json.dumps))


@FUZZ
@given(text=_index_variants())
def test_a_hostile_shard_index_is_a_checkpoint_error(checkpoint, tmp_path_factory, text):
    from mmbind.model.weights import load_state_dict

    folder = tmp_path_factory.mktemp("index")
    (folder / INDEX).write_text(text, encoding="utf-8", errors="surrogatepass")
    with pytest.raises(CheckpointError, match=INDEX.replace(".", r"\.")):
        load_state_dict(folder)


@FUZZ
@given(data=st.data())
def test_a_hostile_config_is_refused_by_the_loader(checkpoint, tmp_path_factory, data):
    import mmbind

    original = json.loads((checkpoint / "mmbind_config.json").read_text())
    key = data.draw(st.sampled_from(sorted(original)))
    value = data.draw(hostile_text() | values.map(json.dumps))
    folder = tmp_path_factory.mktemp("config")
    shutil.copytree(checkpoint, folder / "m")
    text = json.dumps({**original, key: "@@"}).replace('"@@"', value)
    (folder / "m" / "mmbind_config.json").write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        mmbind.load_pretrained(folder / "m")
    except MmbindError as exc:
        assert str(exc)


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 5000, '{"weight_map": 1' + "0" * 5000 + "}",
                                  '{"metadata": {}}'])
def test_a_command_on_a_broken_index_exits_with_one_line(checkpoint, tmp_path, capsys, text):
    from mmbind.cli.main import main

    broken = tmp_path / "m"
    shutil.copytree(checkpoint, broken)
    (broken / "model.safetensors").unlink()
    (broken / INDEX).write_text(text)
    (tmp_path / "q.jsonl").write_text('{"id": 1, "question": "hi"}\n')
    code = main(["infer", str(broken), "-i", str(tmp_path / "q.jsonl"), "-o", str(tmp_path / "a.jsonl")])
    err = capsys.readouterr().err
    assert code == 1 and INDEX in err and "Traceback" not in err
    assert not (tmp_path / "a.jsonl").exists()
