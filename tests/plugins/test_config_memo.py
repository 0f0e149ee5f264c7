"""Transformers configs checked when a recipe loads are checked once: a config that passed is remembered
(by its fields, the checker's source and the versions of transformers and huggingface_hub) and not built
again; a failed check is never remembered, so its error is always transformers' own."""

from __future__ import annotations

import contextlib

import pytest
from pydantic import ValidationError

from mmbind_plugins import config_memo, hf_config
from mmbind_plugins.hf_config import check_config, check_model_config

LLAMA = {"model_type": "llama", "vocab_size": 256, "hidden_size": 64, "intermediate_size": 128,
         "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}


@pytest.fixture(autouse=True)
def no_source_proof(monkeypatch):
    """These tests are about the memo: the proof from transformers' source (config_source) is off."""
    monkeypatch.setattr(hf_config, "proven_valid", lambda class_name, fields: False)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMBIND_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "hf_configs"


@pytest.fixture
def builds(monkeypatch):
    """The configs transformers is asked to build from now on (each check that is not remembered)."""
    calls = []
    original = hf_config.checked_config

    def counted(config_class, fields, at=()):
        calls.append((config_class.__name__, dict(fields)))
        return original(config_class, fields, at)

    monkeypatch.setattr(hf_config, "checked_config", counted)
    return calls


def test_a_config_that_passed_is_not_built_again(cache, builds):
    check_model_config(LLAMA)
    check_model_config(dict(LLAMA))
    assert [name for name, _ in builds] == ["LlamaConfig"] and len(list(cache.iterdir())) == 1
    check_model_config({**LLAMA, "hidden_size": 32})  # other fields: built
    check_config("CLIPVisionConfig", {"hidden_size": 32, "num_attention_heads": 4})
    check_config("CLIPVisionConfig", {"hidden_size": 32, "num_attention_heads": 4})
    assert [name for name, _ in builds] == ["LlamaConfig", "LlamaConfig", "CLIPVisionConfig"]


def test_a_failed_check_is_never_remembered(cache, builds):
    for _ in range(2):
        with pytest.raises(ValidationError, match="num_hiden_layers\n.*unknown key of LlamaConfig"):
            check_model_config({**LLAMA, "num_hiden_layers": 2})
        with pytest.raises(ValidationError, match="unknown transformers model_type 'lama'"):
            check_model_config({**LLAMA, "model_type": "lama"})
    assert len(builds) == 2 and not cache.exists()


def test_other_library_versions_check_again(cache, builds, monkeypatch):
    check_model_config(LLAMA)
    monkeypatch.setattr(config_memo.metadata, "version", lambda name: "0.0.0")
    check_model_config(LLAMA)
    assert len(builds) == 2 and len(list(cache.iterdir())) == 2


def test_fields_that_are_not_plain_json_are_always_checked(cache, builds):
    odd = ({**LLAMA, "architectures": ("LlamaForCausalLM",)}, {**LLAMA, "initializer_range": float("nan")},
           {**LLAMA, "rope_parameters": {1: "default"}})
    for fields in odd:
        for _ in range(2):
            with contextlib.suppress(ValidationError):  # whether transformers takes them does not matter
                check_model_config(fields)
    assert len(builds) == 6 and not cache.exists()


def test_a_cache_folder_that_cannot_be_written_only_costs_speed(tmp_path, monkeypatch, builds):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("MMBIND_CACHE_DIR", str(blocked))
    check_model_config(LLAMA)
    check_model_config(LLAMA)
    assert len(builds) == 2
