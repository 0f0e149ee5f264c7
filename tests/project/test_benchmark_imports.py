"""The scripts in benchmarks/ keep up with the code they measure: every name they import from mmbind (at the
top or inside a function) exists. Benchmarks do not run in the test suite, so a module moved by a refactor
would otherwise only show when someone next measures."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "benchmarks").rglob("*.py"))


def mmbind_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name) of every ``import mmbind...`` / ``from mmbind... import name`` in ``path``."""
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _ours(node.module or ""):
            found += [(node.lineno, str(node.module), alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, None) for alias in node.names if _ours(alias.name)]
    return found


def _ours(module: str) -> bool:
    return module.split(".")[0] == "mmbind"


@pytest.mark.parametrize("script", SCRIPTS, ids=[str(p.relative_to(ROOT)) for p in SCRIPTS])
def test_every_mmbind_name_a_benchmark_imports_exists(script):
    missing = []
    for line, module, name in mmbind_imports(script):
        try:
            imported = importlib.import_module(module)
        except ImportError as exc:
            missing.append(f"{script.name}:{line}: {module} ({exc})")
            continue
        if name is not None and name != "*" and not hasattr(imported, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{script.name}:{line}: {module} has no {name}")
    assert not missing, "\n".join(missing)


def test_the_checker_sees_a_moved_module(tmp_path):
    script = tmp_path / "old.py"
    script.write_text("def run():\n    from mmbind.convert.hf_config import recipe_dict\n")
    assert mmbind_imports(script) == [(2, "mmbind.convert.hf_config", "recipe_dict")]
    with pytest.raises(ImportError):
        importlib.import_module("mmbind.convert.hf_config")
