"""A transformers config proven valid from transformers' source (`config_source`) is one transformers builds:
random field sets of each reviewed class are proven only when transformers accepts them, the configs mmbind's
recipes use are proven (so no recipe check imports transformers), and what cannot be proven is left to
transformers, whose own error is reported."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from mmbind_plugins import config_source, hf_config
from mmbind_plugins.config_source import REVIEWED, class_fields, proven_valid
from mmbind_plugins.encoders.languagebind.presets import PRESETS

VALUES = st.one_of(st.integers(-8, 70), st.sampled_from([0.0, 0.02, 1e-5, 2.5, float("nan")]), st.booleans(),
                   st.sampled_from(["gelu", "silu", "quick_gelu", "", "x"]), st.none(),
                   st.lists(st.integers(0, 4), max_size=3), st.dictionaries(st.sampled_from(["a", "type"]),
                                                                            st.integers(0, 3), max_size=2))


def fields_of(class_name: str) -> st.SearchStrategy[dict]:
    names = sorted(class_fields(class_name)) + ["num_hiden_layers", "rope_theta", "n_embd", "head_dim"]
    return st.dictionaries(st.sampled_from(names), VALUES, max_size=6)


def transformers_builds(class_name: str, fields: dict) -> bool:
    import transformers

    try:
        hf_config.checked_config(getattr(transformers, class_name), fields)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("class_name", sorted(REVIEWED))
def test_every_reviewed_class_is_read_from_the_installed_source(class_name):
    schema = class_fields(class_name)
    assert schema is not None and {"hidden_size", "num_attention_heads", "num_hidden_layers"} <= set(schema)


@pytest.mark.slow
@pytest.mark.parametrize("class_name", sorted(REVIEWED))
@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_proven_config_is_one_transformers_builds(class_name, data):
    geometry = data.draw(st.fixed_dictionaries({"hidden_size": st.sampled_from([32, 48, 64, -64]),
                                                "num_attention_heads": st.sampled_from([4, 3, 0])}))
    fields = {**geometry, **data.draw(fields_of(class_name))}
    if proven_valid(class_name, fields):
        assert transformers_builds(class_name, fields), fields


def test_the_configs_of_mmbinds_recipes_are_proven():
    llama = {"vocab_size": 512, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 1024,
             "rms_norm_eps": 1e-6, "tie_word_embeddings": False, "hidden_act": "silu"}
    assert proven_valid("LlamaConfig", llama)
    for preset in PRESETS.values():
        fields = {k: v for k, v in preset.items() if k != "num_frames"}
        assert proven_valid("CLIPVisionConfig", fields) and transformers_builds("CLIPVisionConfig", fields)


def test_what_cannot_be_proven_is_left_to_transformers():
    assert not proven_valid("LlamaConfig", {"num_hiden_layers": 2})  # an unknown key
    assert not proven_valid("LlamaConfig", {"initializer_range": 0.5})  # a field with a validator of its own
    assert not proven_valid("LlamaConfig", {"hidden_size": 30, "num_attention_heads": 4})  # bad geometry
    assert not proven_valid("LlamaConfig", {"rms_norm_eps": 1})  # an int where the annotation says float
    assert not proven_valid("GPT2Config", {"n_embd": 64})  # a class not reviewed
    with pytest.raises(ValidationError, match="num_hiden_layers\n.*unknown key of LlamaConfig"):
        hf_config.check_model_config({"model_type": "llama", "num_hiden_layers": 2})


def test_a_source_that_cannot_be_read_proves_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(config_source, "_transformers_root", lambda: tmp_path)
    config_source.class_fields.cache_clear()
    try:
        assert not proven_valid("LlamaConfig", {"hidden_size": 64})
    finally:
        config_source.class_fields.cache_clear()
