"""Fuzzing the recipe doors: hostile recipe files (random bytes, non-UTF-8, YAML of wrong types, NaN, huge
integers, deep nesting, unknown keys, anchors and aliases), hostile ``KEY=VALUE`` overrides and hostile
tracker names (``report_to``, ``--report-to``). The contract: the recipe loads, or one typed `MmbindError`
with a one-line message; through the CLI (``mmbind recipe show``, in this process) exit 0 or 2 and never a
traceback. Seeded (``derandomize``) and bounded, so every run tries the same cases in a few seconds."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmbind.cli.main import main
from mmbind.errors import MmbindError
from mmbind.recipe import load_recipe, recipe_from_dict
from mmbind.recipe.trackers import TRACKERS

BASE = "tiny/train"
FUZZ = settings(derandomize=True, max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

HOSTILE_SCALARS = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf"), 10**40, -(10**40), 0, -1, True, None, "",
                     "x" * 5000, "\x00", "\udcff"[:0] + "\u202e", [], {}]),
    st.integers(), st.floats(), st.text(max_size=20), st.booleans(),
)
HOSTILE_VALUES = st.recursive(HOSTILE_SCALARS, lambda inner: st.lists(inner, max_size=3)
                              | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
YAML_VALUES = st.sampled_from([
    ".nan", ".inf", "-.inf", "1e999", "-1", "0", "99999999999999999999999999", "true", "null", "~", "[]",
    "{}",
    "'x'", "[1, [2, [3]]]", "!!python/object/apply:os.system ['true']", "*a", "&a x", "{a: {b: {c: 1}}}",
    "{a: 1, a: 2}", "[" * 200 + "]" * 200, "!!binary AAAA", "2024-01-01", "0x10", "0o17", "1_000", ":",
    "- a\n- b", "{", "'unterminated", "\t", "%YAML 1.1", "? complex key",
]) | st.text(max_size=30)
KEYS = st.sampled_from([
    "name", "model.seed", "model.llm.options.config.hidden_size",
    "model.llm.options.config.num_hidden_layers",
    "model.llm.plugin", "model.llm.options.dtype", "model.projector.plugin", "model.projector.shared",
    "model.encoders.image.options.select_layer", "model.encoders.video.options.num_frames",
    "model.encoders.video.options.config.num_attention_heads", "model.placeholder_ids.image",
    "data.video_frames", "data.media.video.fps", "data.media.video.max_frames", "data.media.video.min_frames",
    "data.media.video.backend", "data.media.image.max_pixels", "data.media.vidoe", "data.media",
    "data.datasets.pretrain.files", "data.datasets.pretrain.files.0", "data.datasets.finetune.template",
    "data.on_bad_sample", "data.num_workers", "stages.finetune.lr", "stages.finetune.epochs",
    "stages.finetune.max_steps", "stages.finetune.global_batch", "stages.finetune.adam_betas",
    "stages.finetune.train", "stages.finetune.kind", "stages.finetune.options", "stages.finetune.lora",
    "stages.finetune.lora.r", "stages.pretrain", "stages", "report_to", "base", "unknown", "model",
    "stages.finetune.lr.llm", "a..b", ".", "model.encoders", "model.encoders.depth.plugin",
]) | st.from_regex(r"[a-z_.]{1,20}", fullmatch=True)


def _contract(load) -> None:
    """``load()`` returns, or raises one `MmbindError` with a one-line message."""
    try:
        load()
    except MmbindError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message
        assert len(message) < 20_000, "a message holding a whole (expanded) document"


def _cli_contract(capsys, *argv: str) -> None:
    code = main(["recipe", "show", *argv, "--json"])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    assert (code == 0) == (err == ""), err


@pytest.fixture(scope="module")
def base_data() -> dict[str, Any]:
    return load_recipe(BASE).model_dump(mode="json")


@FUZZ
@given(key=KEYS, value=YAML_VALUES)
def test_hostile_overrides_load_or_give_one_recipe_error(key, value):
    _contract(lambda: load_recipe(BASE, [f"{key}={value}"]))


@FUZZ
@given(overrides=st.lists(st.tuples(KEYS, YAML_VALUES), min_size=1, max_size=3))
def test_hostile_overrides_through_recipe_show(capsys, overrides):
    _cli_contract(capsys, BASE, *(f"{k}={v}" for k, v in overrides))


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*prefix, i))
    return out


def _mutated(data: dict[str, Any], path: tuple, value: Any, extra_key: str | None) -> dict[str, Any]:
    out = copy.deepcopy(data)
    if not path:
        return out if not extra_key else {**out, extra_key: value}
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    if extra_key and isinstance(node, dict):
        node[extra_key] = value
    return out


@FUZZ
@given(data=st.data(), value=HOSTILE_VALUES, extra=st.none() | st.text(min_size=1, max_size=8))
def test_mutated_recipes_load_or_give_one_recipe_error(base_data, data, value, extra):
    path = data.draw(st.sampled_from(_paths(base_data)))
    mutated = _mutated(base_data, path, value, extra)
    _contract(lambda: recipe_from_dict(mutated, source="fuzz.yaml"))
    try:
        text = yaml.safe_dump(mutated, allow_unicode=True)
    except yaml.YAMLError:
        return
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "recipe.yaml"
        file.write_text(text, encoding="utf-8", errors="surrogatepass")
        _contract(lambda: load_recipe(file))


@FUZZ
@given(raw=st.binary(max_size=400) | st.text(max_size=400).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_bytes_as_a_recipe_file(capsys, raw):
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "recipe.yaml"
        file.write_bytes(raw)
        _contract(lambda: load_recipe(file))
        _cli_contract(capsys, str(file))


@FUZZ
@given(body=st.sampled_from(["name: x", "base: tiny/train", "base: tiny/train\nname: y"]),
       tail=st.text(alphabet=st.sampled_from(list("[]{}:,-&*!|>'\"#%@` \n\tabc19.")), max_size=120))
def test_yaml_punctuation_soup(capsys, body, tail):
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "recipe.yaml"
        file.write_text(f"{body}\n{tail}", encoding="utf-8")
        _cli_contract(capsys, str(file))


@pytest.mark.parametrize("text", [
    "base: tiny/train\n" + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
                                   for p, c in zip(" abcdefg", "abcdefgh")),
    "base: tiny/train\nname: " + "[" * 5000 + "]" * 5000,
    "base: tiny/train\nname: " + "{a: " * 300 + "1" + "}" * 300,
    "base: tiny/train\nreport_to: &r [" + ", ".join(["x"] * 50) + "]\nname: *r",
    "base: tiny/train\nname: \xff\xfe",
], ids=["alias-bomb", "deep-lists", "deep-maps", "alias-reuse", "latin-1"])
def test_pathological_documents_are_recipe_errors(capsys, tmp_path, text):
    file = tmp_path / "recipe.yaml"
    file.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode("utf-8"))
    code = main(["recipe", "show", str(file)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and len(err) < 5_000, err[:500]


# ------------------------------------------------------------------ trackers
TRACKER_NAMES = st.sampled_from([*TRACKERS, "none", "wandb ", "WandB", "tensorbaord", "", "mlflow,mlflow",
                                 "ml flow", "\u202etensorboard"]) | st.text(max_size=12)


@FUZZ
@given(names=st.lists(TRACKER_NAMES | HOSTILE_SCALARS, max_size=4) | HOSTILE_VALUES)
def test_hostile_report_to_is_one_recipe_error(base_data, names):
    ok = isinstance(names, list) and all(isinstance(n, str) and n in TRACKERS for n in names) \
        and len(set(names)) == len(names)
    try:
        recipe = recipe_from_dict({**base_data, "report_to": names}, source="fuzz.yaml")
    except MmbindError as exc:
        assert not ok or "is not installed" in str(exc)
        assert "\n" not in str(exc) and (ok or "report_to" in str(exc))
    else:
        assert ok and recipe.report_to == names


@FUZZ
@given(option=st.lists(TRACKER_NAMES, min_size=1, max_size=3).map(",".join))
def test_hostile_report_to_option_is_a_usage_error(capsys, tmp_path_factory, option):
    from mmbind.cli.train_cmd import _with_trackers

    names = [n.strip() for n in option.split(",") if n.strip()]
    ok = names == ["none"] or (all(n in TRACKERS for n in names) and len(set(names)) == len(names))
    _contract(lambda: _with_trackers(load_recipe(BASE), option))
    if not ok:
        with pytest.raises(MmbindError):
            _with_trackers(load_recipe(BASE), option)
