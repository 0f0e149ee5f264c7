"""A damaged ``mmbind_config.json`` in a checkpoint folder: one CheckpointError naming the file and field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import mmbind
from mmbind.errors import CheckpointError


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    from mmbind.recipe.paths import resolve_recipe_path

    model = mmbind.build_model(mmbind.load_recipe(resolve_recipe_path("tiny/video_llava")))
    return model.save_pretrained(tmp_path_factory.mktemp("ckpt") / "model")


def damaged(saved: Path, tmp_path: Path, edit) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(saved, copy)
    path = copy / "mmbind_config.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    result = edit(data)
    path.write_bytes(result if isinstance(result, bytes) else json.dumps(result).encode())
    return copy


CASES = {
    "garbage": (lambda d: b"{not json", r"not valid JSON"),
    "not utf-8": (lambda d: b"\xff\xfe\x00garbage", r"not UTF-8"),
    "a list": (lambda d: [d], r"expected a JSON object, got list"),
    "version as text": (lambda d: {**d, "format_version": "1"}, r"format_version: expected an integer"),
    "version as bool": (lambda d: {**d, "format_version": True}, r"format_version: expected an integer"),
    "version too new": (lambda d: {**d, "format_version": 99}, r"newer than this mmbind"),
    "ids as text": (lambda d: {**d, "placeholder_ids": {"image": "5"}}, r"placeholder_ids: expected"),
    "no encoders": (lambda d: {**d, "model": {"llm": {}}}, r"model: expected an object with an 'encoders'"),
    "missing ids": (lambda d: {k: v for k, v in d.items() if k != "placeholder_ids"},
                    r"missing placeholder_ids"),
    "unknown field": (lambda d: {**d, "colour": 1}, r"unknown field colour"),
    "extra as list": (lambda d: {**d, "extra": []}, r"extra: expected an object"),
}


@pytest.mark.parametrize("case", CASES)
def test_damaged_config_is_one_checkpoint_error_naming_the_file(saved, tmp_path, case):
    edit, message = CASES[case]
    folder = damaged(saved, tmp_path, edit)
    with pytest.raises(CheckpointError, match=message) as info:
        mmbind.load_pretrained(folder)
    assert str(folder / "mmbind_config.json") in str(info.value)


def test_missing_config_and_intact_copy(saved, tmp_path):
    assert isinstance(mmbind.load_pretrained(damaged(saved, tmp_path, lambda d: d)), mmbind.MultimodalLM)
    (tmp_path / "copy" / "mmbind_config.json").unlink()
    with pytest.raises(CheckpointError, match="not an mmbind checkpoint"):
        mmbind.load_pretrained(tmp_path / "copy")


LLM_CASES = {
    "config missing": (lambda llm: (llm / "config.json").unlink(), r"llm: config.json is missing"),
    "config garbage": (lambda llm: (llm / "config.json").write_text("{garbage"),
                       r"llm: the config files do not load"),
    "config not utf-8": (lambda llm: (llm / "config.json").write_bytes(b"\xff\xfe{"),
                         r"llm: the config files do not load"),
    "tokenizer garbage": (lambda llm: (llm / "tokenizer.json").write_text("garbage"),
                          r"llm: the tokenizer files do not load"),
}


@pytest.mark.parametrize("case", LLM_CASES)
def test_damaged_llm_files_are_one_checkpoint_error(saved, tmp_path, case):
    damage, message = LLM_CASES[case]
    folder = damaged(saved, tmp_path, lambda d: d)
    damage(folder / "llm")
    with pytest.raises(CheckpointError, match=message) as info:
        mmbind.load_pretrained(folder)
    assert str(folder / "llm") in str(info.value)
