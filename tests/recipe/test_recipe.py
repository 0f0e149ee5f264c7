"""Recipes: base inheritance, overrides, validation messages, plugin option schemas, safe YAML."""

from __future__ import annotations

import textwrap

import pytest
import yaml

import mmbind
from mmbind.recipe.merge import apply_override, deep_merge
from mmbind.recipe.paths import resolve_recipe_path


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def child_recipe(tmp_path, tiny_recipe_path):
    base = tmp_path / "base" / "video_llava.yaml"
    base.parent.mkdir()
    base.write_text(tiny_recipe_path.read_text())
    return write(tmp_path / "child.yaml", """
        base: base/video_llava.yaml
        name: child
        model:
          encoders:
            image:
              options:
                select_layer: -1
    """)


def test_base_is_resolved_relative_to_the_file_and_deep_merged(child_recipe, tiny_recipe_path):
    recipe = mmbind.load_recipe(child_recipe)
    parent = mmbind.load_recipe(tiny_recipe_path)
    assert recipe.name == "child"
    assert recipe.model.encoders["image"].options["select_layer"] == -1
    assert (recipe.model.encoders["image"].options["config"]
            == parent.model.encoders["image"].options["config"])
    assert recipe.model.llm == parent.model.llm


def test_options_are_normalised_with_plugin_defaults(tiny_recipe_path):
    recipe = mmbind.load_recipe(tiny_recipe_path)
    options = recipe.model.encoders["image"].options
    assert (options["keep_cls"] is None and options["frozen"] is True
            and options["attn_implementation"] == "sdpa")
    assert recipe.model.projector.options == {"act": "gelu", "bias": True}


def test_swapping_a_plugin_replaces_the_whole_part():
    base = {"model": {"projector": {"plugin": "mlp2x_gelu", "options": {"act": "relu"}}}}
    child = {"model": {"projector": {"plugin": "linear"}}}
    assert deep_merge(base, child)["model"]["projector"] == {"plugin": "linear"}
    same = {"model": {"projector": {"plugin": "mlp2x_gelu", "shared": False}}}
    assert deep_merge(base, same)["model"]["projector"] == {
        "plugin": "mlp2x_gelu", "options": {"act": "relu"}, "shared": False
    }


def test_dotted_overrides_parse_values_as_yaml(tiny_recipe_path):
    recipe = mmbind.load_recipe(
        tiny_recipe_path,
        overrides=["model.seed=7", "model.projector.plugin=linear", "model.projector.options={}", "name=x y"],
    )
    assert recipe.model.seed == 7
    assert recipe.model.projector.plugin == "linear" and recipe.model.projector.options == {"bias": True}
    assert recipe.name == "x y"


def test_encoder_options_can_be_reset_by_override(tiny_recipe_path):
    with pytest.raises(mmbind.RecipeError, match=r"model\.encoders\.image\.options: .*exactly one of 'path'"):
        mmbind.load_recipe(tiny_recipe_path, overrides=["model.encoders.image.options={}"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.seed", r"expected KEY=VALUE"),
        ("model.seed=[1", r"VALUE is not valid YAML"),
        ("name.x=1", r"name is a NoneType|name is a str"),
    ],
)
def test_bad_overrides(tiny_recipe_path, override, message):
    with pytest.raises(mmbind.RecipeError, match=message):
        mmbind.load_recipe(tiny_recipe_path,
                           overrides=["name=a", override] if override.startswith("name.") else [override])


def test_invalid_field_names_file_path_and_expectation(tmp_path, tiny_recipe_path):
    bad = write(tmp_path / "bad.yaml", f"""
        base: {tiny_recipe_path}
        model:
          projector:
            shared: maybe
    """)
    with pytest.raises(mmbind.RecipeError) as info:
        mmbind.load_recipe(bad)
    message = str(info.value)
    assert message.startswith(
        f"{bad}: invalid recipe: model.projector.shared: Input should be a valid boolean"
    )
    assert "(got 'maybe')" in message
    assert info.value.exit_code == 2


def test_unknown_top_level_key_is_rejected(tmp_path, tiny_recipe_path):
    bad = write(tmp_path / "bad.yaml", f"base: {tiny_recipe_path}\nmodle: {{}}\n")
    with pytest.raises(mmbind.RecipeError, match=r"modle: Extra inputs are not permitted"):
        mmbind.load_recipe(bad)


def test_wrong_plugin_options_name_the_field(tiny_recipe_path):
    with pytest.raises(mmbind.RecipeError) as info:
        mmbind.load_recipe(tiny_recipe_path,
                           overrides=["model.projector.options.act=swish", "model.llm.options.dtype=fp8"])
    message = str(info.value)
    assert "invalid options for projector 'mlp2x_gelu'" in message
    assert ("model.projector.options.act: Input should be 'gelu', 'gelu_tanh', 'quick_gelu', 'relu' or 'silu'"
            in message)


def test_unknown_plugin_names_file_field_and_suggestion(tiny_recipe_path):
    with pytest.raises(mmbind.UnknownPluginError) as info:
        mmbind.load_recipe(tiny_recipe_path, overrides=["model.projector.plugin=mlp2x_gelo"])
    assert str(info.value) == (
        f"{tiny_recipe_path}: model.projector.plugin: unknown projector 'mlp2x_gelo'; "
        "did you mean 'mlp2x_gelu'?"
    )
    assert info.value.exit_code == 2


def test_encoder_that_cannot_serve_a_modality(tiny_recipe_path):
    with pytest.raises(mmbind.RecipeError,
                       match=r"model\.encoders\.depth: encoder 'clip_vision' cannot serve modality 'depth'"):
        mmbind.load_recipe(tiny_recipe_path,
                           overrides=["model.encoders.depth={plugin: clip_vision, options: {config: {}}}"])


def test_yaml_is_loaded_safely_and_never_runs_code(tmp_path):
    evil = write(tmp_path / "evil.yaml", "name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(mmbind.RecipeError, match=r"evil.yaml: not valid YAML at line 1"):
        mmbind.load_recipe(evil)


def test_missing_file_and_base_cycle(tmp_path):
    with pytest.raises(mmbind.RecipeError, match=r"nope.yaml: recipe file not found"):
        mmbind.load_recipe(tmp_path / "nope.yaml")
    write(tmp_path / "a.yaml", "base: b.yaml\n")
    write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(mmbind.RecipeError, match=r"base recipes form a cycle"):
        mmbind.load_recipe(tmp_path / "a.yaml")


def test_a_user_recipe_anywhere_inherits_a_bundled_recipe_by_name(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    mine = write(tmp_path / "elsewhere" / "my.yaml", """
        base: tiny/train
        name: mine
        stages:
          pretrain:
            lr: 0.5
    """)
    bundled = mmbind.load_recipe("tiny/train")
    recipe = mmbind.load_recipe(mine)
    assert recipe.name == "mine" and bundled.name != "mine"
    assert recipe.stages["pretrain"].lr == 0.5 != bundled.stages["pretrain"].lr
    assert recipe == bundled.model_copy(update={"name": "mine", "stages": {
        **bundled.stages, "pretrain": bundled.stages["pretrain"].model_copy(update={"lr": 0.5})}})
    # the ``.yaml`` suffix is optional; the chain goes on inside the bundled recipes (tiny/long -> train.yaml
    # -> video_llava.yaml)
    write(tmp_path / "long.yaml", "base: tiny/long.yaml\n")
    assert mmbind.load_recipe(tmp_path / "long.yaml") == mmbind.load_recipe("tiny/long")


def test_an_unknown_base_names_the_file_and_the_closest_bundled_recipes(tmp_path):
    typo = write(tmp_path / "my.yaml", "base: tiny/trian\n")
    with pytest.raises(mmbind.RecipeError) as info:
        mmbind.load_recipe(typo)
    assert str(info.value) == (f"{typo}: base: 'tiny/trian' is neither a file (relative to this recipe) nor "
                               "a bundled recipe; did you mean 'tiny/train'?")
    far = write(tmp_path / "far.yaml", "base: zzz\n")
    listed = r"far.yaml: base: 'zzz' is neither .* bundled recipes: ablations/alignment, .*tiny/train, .*"
    with pytest.raises(mmbind.RecipeError, match=listed):
        mmbind.load_recipe(far)


def test_a_local_file_shadows_a_bundled_recipe_of_the_same_name(tmp_path, tiny_recipe_path):
    local = tmp_path / "tiny" / "train"  # the path ``base: tiny/train`` names, relative to the recipe
    local.parent.mkdir()
    write(local, f"""
        base: {tiny_recipe_path}
        name: local train
    """)
    write(tmp_path / "my.yaml", "base: tiny/train\n")
    recipe = mmbind.load_recipe(tmp_path / "my.yaml")
    assert recipe.name == "local train"
    assert recipe.stages is None and mmbind.load_recipe("tiny/train").stages  # not the bundled one's


def test_a_cycle_names_every_file_in_it(tmp_path):
    write(tmp_path / "a.yaml", "base: b.yaml\n")
    write(tmp_path / "b.yaml", f"base: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(mmbind.RecipeError) as info:
        mmbind.load_recipe(tmp_path / "a.yaml")
    a, b = (tmp_path / "a.yaml").resolve(), (tmp_path / "b.yaml").resolve()
    assert str(info.value) == f"{tmp_path / 'a.yaml'}: base recipes form a cycle: {a} -> {b} -> {a}"


def test_resolved_recipe_round_trips(tiny_recipe_path):
    recipe = mmbind.load_recipe(tiny_recipe_path)
    dumped = yaml.safe_load(yaml.safe_dump(recipe.model_dump(mode="json")))
    assert mmbind.recipe_from_dict(dumped) == recipe


def test_apply_override_does_not_mutate_input():
    data = {"model": {"seed": 1}}
    assert apply_override(data, "model.seed=2") == {"model": {"seed": 2}}
    assert data == {"model": {"seed": 1}}


def test_null_removes_a_part_but_is_a_value_for_a_field():
    base = {"encoders": {"video": {"plugin": "x"}}, "stage": {"max_grad_norm": 1.0, "lr": 1e-3}}
    child = {"encoders": {"video": None}, "stage": {"max_grad_norm": None}}
    merged = deep_merge(base, child)
    assert merged == {"encoders": {}, "stage": {"max_grad_norm": None, "lr": 1e-3}}
    assert apply_override(base, "encoders.video=null")["encoders"] == {}
    assert apply_override(base, "stage.max_grad_norm=null")["stage"]["max_grad_norm"] is None
    recipe = mmbind.load_recipe(resolve_recipe_path("tiny/train"), ["stages.pretrain.max_grad_norm=null"])
    assert recipe.stages["pretrain"].max_grad_norm is None  # clipping off, not back to the default 1.0


def test_duplicate_keys_and_non_utf8_files_are_recipe_errors(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("name: x\nmodel:\n  seed: 1\n  seed: 2\n", encoding="utf-8")
    with pytest.raises(mmbind.RecipeError, match=r"dup.yaml: not valid YAML at line 4, column 3: "
                                                 r"duplicate key 'seed' \(first set at line 3\)"):
        mmbind.load_recipe(dup)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(mmbind.RecipeError, match=r"latin.yaml: not UTF-8 text \(invalid continuation byte"):
        mmbind.load_recipe(latin)
