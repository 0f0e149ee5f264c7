"""The built wheel works on its own: recipes ship inside the package and the first-party plugins load
through the wheel's entry points, from a fresh environment outside the checkout.

The wheel is built from a copy of the checkout (no build isolation: nothing is downloaded) and installed
with ``--no-deps`` into a new venv; the already installed dependencies are made visible by a ``.pth``
line naming this environment's site-packages (a path added that way has its own ``.pth`` files ignored,
so the editable install's finder of this environment is never activated).
"""

from __future__ import annotations

import json
import os
import shutil
import site
import sys
import venv
from pathlib import Path

import pytest

from tests.support.helpers import run_command as run

CHECKOUT = Path(__file__).resolve().parents[2]
SKIP_ANYWHERE = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", ".pytest_cache", ".mmbind_cache")
SKIP_AT_TOP = {".venv", "build", "dist", "runs", "data", ".whl"}  # outputs of the checkout, not sources


def skip(folder: str, names: list[str]) -> set[str]:
    """What not to copy from ``folder`` of the checkout."""
    top = SKIP_AT_TOP & set(names) if Path(folder) == CHECKOUT else set()
    return top | SKIP_ANYWHERE(folder, names)




@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin folder of a fresh venv holding only the mmbind wheel, a clean env, a cwd outside the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["HF_HUB_OFFLINE"] = "1"
    src = tmp / "src"
    shutil.copytree(CHECKOUT, src, ignore=skip)
    pip = [sys.executable, "-m", "pip"]
    run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)],
        tmp, env)
    wheel = next((tmp / "dist").glob("mmbind-*.whl"))
    venv.EnvBuilder(with_pip=False).create(tmp / "venv")
    python = tmp / "venv" / "bin" / "python"
    run([*pip, "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)], tmp, env)
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp, env)
    Path(purelib.stdout.strip(), "parent_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    cwd = tmp / "work"
    cwd.mkdir()
    return python.parent, env, cwd


@pytest.mark.slow
def test_the_wheel_imports_from_its_own_environment(installed):
    bin_dir, env, cwd = installed
    code = ("import json, mmbind, mmbind_plugins; "
            "print(json.dumps([mmbind.__file__, mmbind_plugins.__file__]))")
    files = json.loads(run([str(bin_dir / "python"), "-c", code], cwd, env).stdout)
    for file in files:
        assert Path(file).is_relative_to(bin_dir.parent), file
    assert (Path(files[0]).parent / "recipes" / "tiny" / "train.yaml").is_file()


@pytest.mark.slow
def test_recipes_and_plugins_work_from_the_wheel(installed):
    bin_dir, env, cwd = installed
    mmbind = str(bin_dir / "mmbind")
    listed = {r["recipe"] for r in json.loads(run([mmbind, "recipe", "list", "--json"], cwd, env).stdout)}
    assert {"tiny/train", "tiny/video_llava", "video_llava_7b", "ablations/alignment"} <= listed
    shown = json.loads(run([mmbind, "recipe", "show", "tiny/train", "--json"], cwd, env).stdout)
    assert shown["name"] == "tiny-video-llava-train"
    # cwd-relative
    assert shown["data"]["datasets"]["pretrain"]["files"][0]["path"] == "data/tiny/pretrain.json"
    plugins = json.loads(run([mmbind, "plugins", "--json"], cwd, env).stdout)
    first_party = [p for p in plugins if p["source"] == "mmbind"]
    assert {"clip_vision", "clip", "mae", "hf_causal", "mlp2x_gelu", "languagebind_video", "msvd_qa", "pope",
            "synth_set"} <= {p["name"] for p in first_party}
    assert all(p["status"] == "ok" for p in first_party), first_party


@pytest.mark.slow
def test_compose_demo_from_the_wheel(installed):
    bin_dir, env, cwd = installed
    proc = run([str(bin_dir / "mmbind"), "demo", "--compose-only", "--out", str(cwd / "demo")], cwd, env)
    assert "reloaded model generates the same tokens: True" in " ".join(proc.stdout.split())
    assert (cwd / "demo").is_dir()


def test_every_package_folder_is_listed_for_the_wheel():
    # setuptools' explicit `packages` list: a package left out is missing from the wheel (and its importers
    # fail only once installed)
    import tomllib

    listed = set(tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(("mmbind_plugins",) + p.parent.relative_to(CHECKOUT / "plugins").parts)
             for p in (CHECKOUT / "plugins").rglob("__init__.py")}
    found |= {".".join(p.parent.relative_to(CHECKOUT).parts)
              for p in (CHECKOUT / "mmbind").rglob("__init__.py")}
    assert found - listed == set()
