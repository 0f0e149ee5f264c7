"""Fault suite, plugin configs: a transformers ``config:`` mapping (``hf_causal``, ``clip_vision``, the
LanguageBind towers) is built when the recipe loads, so a wrong model_type, a misspelt key or an impossible
attention geometry is one recipe error naming ``...options.config.<key>`` (exit 2, no traceback, nothing
written), never a traceback when a stage starts."""

from __future__ import annotations

import pytest

from mmbind.cli.main import main
from mmbind.errors import RecipeError
from mmbind.recipe import load_recipe

LLM = "model.llm.options.config"
CASES = {  # id -> (recipe, override, expected message)
    "llm-model-type-typo": ("tiny/video_llava", f"{LLM}.model_type=lama",
                            f"{LLM}.model_type: unknown transformers model_type 'lama' (did you mean llama"),
    "llm-key-typo": ("tiny/video_llava", f"{LLM}.num_hiden_layers=2",
                     f"{LLM}.num_hiden_layers: unknown key of LlamaConfig (did you mean num_hidden_layers?)"),
    "llm-hidden-not-divisible": ("tiny/video_llava", f"{LLM}.hidden_size=65",
                                 f"{LLM}.hidden_size: 65 is not divisible by num_attention_heads 4"),
    "llm-kv-heads": ("tiny/video_llava", f"{LLM}.num_key_value_heads=3",
                     f"{LLM}.num_key_value_heads: num_attention_heads 4 is not a multiple of "
                     "num_key_value_heads 3"),
    "llm-bad-value": ("tiny/video_llava", f"{LLM}.rope_parameters=7", f"{LLM}: LlamaConfig rejects it:"),
    "clip-key-typo": ("tiny/hf_video_llava", "model.encoders.image.options.config.hiden_size=32",
                      "model.encoders.image.options.config.hiden_size: unknown key of CLIPVisionConfig "
                      "(did you mean hidden_size?)"),
    "clip-hidden-not-divisible": ("tiny/hf_video_llava", "model.encoders.video.options.config.hidden_size=30",
                                  "model.encoders.video.options.config.hidden_size: 30 is not divisible by "
                                  "num_attention_heads"),
    "languagebind-key-typo": ("tiny/video_llava", "model.encoders.video.options.config.num_hiden_layers=1",
                              "model.encoders.video.options.config.num_hiden_layers: unknown key of "
                              "CLIPVisionConfig (did you mean num_hidden_layers?)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_transformers_config_is_one_recipe_error_at_load_time(case, capsys, tmp_path):
    recipe, override, expected = CASES[case]
    with pytest.raises(RecipeError) as caught:
        load_recipe(recipe, [override])
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    run = tmp_path / "run"  # through the CLI: exit 2, one line, before the run folder is made
    assert main(["train", recipe, override, "--output", str(run), "--no-progress"]) == RecipeError.exit_code
    err = capsys.readouterr().err
    assert expected in " ".join(err.split()) and "Traceback" not in err
    assert not run.exists()


@pytest.mark.parametrize("override", [f"{LLM}.rope_theta=10000.0", f"{LLM}.tie_word_embeddings=true",
                                      f"{LLM}.torch_dtype=float32", f"{LLM}.rope_scaling=null"])
def test_keys_transformers_consumes_under_another_name_are_accepted(override):
    load_recipe("tiny/video_llava", [override])
