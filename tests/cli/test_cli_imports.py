"""What the CLI imports: ``--help`` imports neither torch nor any plugin, ``recipe show`` only the plugins
its recipe names, ``recipe list`` none; the registry imports a plugin when one of its parts is looked up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import mmbind
from mmbind.registry import load_registry
from tests.support.helpers import forget_modules, make_dist_info, write_module

HEAVY = ("torch", "transformers", "open_clip", "timm", "pydantic")

# Runs the CLI in this interpreter, then prints the imported module names as one JSON line on stderr.
WRAPPER = textwrap.dedent("""
    import json, sys
    from mmbind.cli.main import main
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
    sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
    sys.exit(code)
""")


def imported_by(*argv: str) -> set[str]:
    """Modules imported by ``mmbind ARGV`` in a fresh interpreter."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


def plugin_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith("mmbind_plugins.")}


@pytest.mark.parametrize("argv", [["--help"], ["recipe", "--help"], ["train", "--help"], ["demo", "--help"]])
def test_help_imports_neither_torch_nor_plugins(argv):
    modules = imported_by(*argv)
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    assert not plugin_modules(modules)


def test_recipe_list_imports_no_plugin():
    modules = imported_by("recipe", "list", "--json")
    assert not modules & {"torch", "open_clip", "timm"} and not plugin_modules(modules)


@pytest.mark.slow
def test_recipe_show_imports_only_the_plugins_its_recipe_names():
    modules = plugin_modules(imported_by("recipe", "show", "tiny/train"))
    named = {"mmbind_plugins.encoders.languagebind.image", "mmbind_plugins.encoders.languagebind.video",
             "mmbind_plugins.projectors.mlp_gelu", "mmbind_plugins.llms.hf_causal"}
    assert named <= modules
    others = {"mmbind_plugins.encoders.open_clip_encoder", "mmbind_plugins.encoders.timm_mae",
              "mmbind_plugins.encoders.clip_vision", "mmbind_plugins.projectors.linear"}
    assert not modules & others


@pytest.mark.slow
def test_recipe_show_imports_no_transformers_even_on_a_first_run(tmp_path, monkeypatch):
    monkeypatch.setenv("MMBIND_CACHE_DIR", str(tmp_path))  # no config check remembered
    modules = imported_by("recipe", "show", "tiny/train")  # its configs are proven from transformers' source
    assert not modules & {"transformers", "torchvision"}, sorted(modules & {"transformers", "torchvision"})


@pytest.mark.slow
def test_recipe_show_of_a_clip_recipe_imports_no_languagebind():
    modules = imported_by("recipe", "show", "tiny/hf_video_llava")
    assert "mmbind_plugins.encoders.clip_vision" in modules
    assert not {m for m in modules if "languagebind" in m or m in ("open_clip", "timm")}


def test_import_mmbind_is_light():
    proc = subprocess.run([sys.executable, "-c", "import sys, mmbind; print(sorted(sys.modules))"],
                          capture_output=True, text=True, check=True)
    assert "torch" not in proc.stdout and "pydantic" not in proc.stdout
    assert mmbind.build_model.__module__.startswith("mmbind.model")  # lazy names still resolve


# ----------------------------------------------------------------------------------- lazy registry

PLUGIN = """
import mmbind
from pydantic import BaseModel
from mmbind_plugins.projectors.linear import build

class Opts(BaseModel):
    pass

@mmbind.hookimpl
def mmbind_projectors():
    return [mmbind.ProjectorEntry("{name}", Opts, build)]
"""


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    forget_modules("lazy_named", "lazy_other", "lazy_multi")


def test_a_part_is_found_through_its_entry_point_without_importing_the_rest(plugin_path):
    write_module(plugin_path, "lazy_named", PLUGIN.format(name="lazy_proj"))
    write_module(plugin_path, "lazy_other", PLUGIN.format(name="other_proj"))
    make_dist_info(plugin_path, "pkg-named", {"lazy_proj": "lazy_named"})
    make_dist_info(plugin_path, "pkg-other", {"other": "lazy_other"})
    registry = load_registry()
    assert {"lazy_proj", "other", "clip"} <= set(registry.source_names())
    assert "lazy_named" not in sys.modules
    assert registry.get("projector", "lazy_proj").name == "lazy_proj"
    assert "lazy_named" in sys.modules and "lazy_other" not in sys.modules
    # an entry point named otherwise is found by importing the others
    assert registry.get("projector", "other_proj").name == "other_proj"
    assert "lazy_other" in sys.modules


def test_one_module_listed_under_several_part_names_is_loaded_once(plugin_path):
    two = PLUGIN.format(name="multi_a").replace('ProjectorEntry("multi_a", Opts, build)]',
                                                'ProjectorEntry("multi_a", Opts, build), '
                                                'mmbind.ProjectorEntry("multi_b", Opts, build)]')
    write_module(plugin_path, "lazy_multi", two)
    make_dist_info(plugin_path, "pkg-multi", {"multi_a": "lazy_multi", "multi_b": "lazy_multi"})
    registry = load_registry()
    assert registry.get("projector", "multi_b").name == "multi_b"
    assert sorted(r.name for r in registry.records if r.source == "pkg-multi") == ["multi_a", "multi_b"]
    assert all(r.status == "ok" for r in registry.records if r.source == "pkg-multi")
