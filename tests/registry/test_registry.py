"""Plugin registry: first-party entry points, exact lookup, suggestions, duplicates, broken plugins."""

from __future__ import annotations

import sys

import pytest

import mmbind
from mmbind.registry import load_registry
from tests.support.helpers import forget_modules, make_dist_info, write_module

GOOD = """
from pydantic import BaseModel
import mmbind
from mmbind_plugins.projectors.linear import build

class Opts(BaseModel):
    bias: bool = True

@mmbind.hookimpl
def mmbind_projectors():
    return [mmbind.ProjectorEntry("{name}", Opts, build, "test projector")]
"""


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    """A fresh sys.path entry for fake installed plugins."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    forget_modules("fake_plugin_a", "fake_plugin_b", "broken_plugin", "bad_hook_plugin")


def test_first_party_plugins_are_registered_through_entry_points():
    registry = load_registry()
    ok = {(r.kind, r.name): r for r in registry.records if r.status == "ok"}
    for key in [("encoder", "clip_vision"), ("projector", "linear"), ("projector", "mlp2x_gelu"),
                ("llm", "hf_causal")]:
        assert key in ok, key
        assert ok[key].source == "mmbind"
        assert ok[key].module.startswith("mmbind_plugins.")


def test_unknown_name_suggests_close_matches():
    registry = load_registry()
    with pytest.raises(mmbind.UnknownPluginError,
                       match=r"unknown projector 'mlp2x_gleu'; did you mean 'mlp2x_gelu'\?"):
        registry.get("projector", "mlp2x_gelu".replace("gelu", "gleu"))


def test_names_are_matched_exactly_not_by_substring():
    registry = load_registry()
    with pytest.raises(mmbind.UnknownPluginError, match="did you mean 'clip_vision'"):
        registry.get("encoder", "clip_vis")
    with pytest.raises(mmbind.UnknownPluginError, match="unknown llm 'hf'"):
        registry.get("llm", "hf")


def test_two_providers_of_one_name_is_an_error_naming_both(plugin_path):
    write_module(plugin_path, "fake_plugin_a", GOOD.format(name="twin"))
    write_module(plugin_path, "fake_plugin_b", GOOD.format(name="twin"))
    make_dist_info(plugin_path, "pkg-a", {"a": "fake_plugin_a"})
    make_dist_info(plugin_path, "pkg-b", {"b": "fake_plugin_b"})
    registry = load_registry()
    twins = [r for r in registry.records if r.name == "twin"]
    assert {r.status for r in twins} == {"duplicate"}
    with pytest.raises(mmbind.DuplicatePluginError,
                       match=r"projector 'twin' is provided by both pkg-a \(fake_plugin_a\) "
                             r"and pkg-b \(fake_plugin_b\)"):
        registry.get("projector", "twin")
    # the other plugins are unaffected
    assert registry.get("projector", "linear").name == "linear"


def test_a_plugin_that_fails_to_import_is_listed_and_others_still_load(plugin_path):
    write_module(plugin_path, "broken_plugin", "import does_not_exist_anywhere\n")
    write_module(plugin_path, "fake_plugin_a", GOOD.format(name="fine"))
    make_dist_info(plugin_path, "pkg-broken", {"broken": "broken_plugin"})
    make_dist_info(plugin_path, "pkg-a", {"a": "fake_plugin_a"})
    registry = load_registry()
    failed = [r for r in registry.records if r.status == "failed"]
    assert len(failed) == 1
    assert failed[0].name == "broken" and failed[0].source == "pkg-broken"
    assert "ModuleNotFoundError" in failed[0].reason and "does_not_exist_anywhere" in failed[0].reason
    assert registry.get("projector", "fine").name == "fine"
    with pytest.raises(mmbind.UnknownPluginError, match=r"plugins that failed to load: broken"):
        registry.get("projector", "nothing_like_this")


def test_a_hook_returning_garbage_is_recorded_as_failed(plugin_path):
    write_module(plugin_path, "bad_hook_plugin", """
        import mmbind
        @mmbind.hookimpl
        def mmbind_encoders():
            return ["not an entry"]
    """)
    make_dist_info(plugin_path, "pkg-bad", {"bad": "bad_hook_plugin"})
    registry = load_registry()
    bad = [r for r in registry.records if r.source == "pkg-bad"]
    assert len(bad) == 1 and bad[0].status == "failed" and bad[0].kind == "encoder"
    assert "must return a list of EncoderEntry" in bad[0].reason


def test_disable_plugins_by_entry_point_name(plugin_path, monkeypatch):
    write_module(plugin_path, "fake_plugin_a", GOOD.format(name="blockme"))
    make_dist_info(plugin_path, "pkg-a", {"blocked_ep": "fake_plugin_a"})
    monkeypatch.setenv("MMBIND_DISABLE_PLUGINS", "blocked_ep")
    assert "blockme" not in load_registry().names("projector")
    monkeypatch.delenv("MMBIND_DISABLE_PLUGINS")
    assert "blockme" in load_registry().names("projector")


def test_explicit_modules_registry():
    from mmbind_plugins.projectors import linear

    registry = load_registry([linear])
    assert registry.names("projector") == ["linear"]
    assert registry.names("encoder") == []
    assert sys.modules["mmbind_plugins.projectors.linear"] is linear
