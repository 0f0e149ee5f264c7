"""The layering of docs/ARCHITECTURE.md holds: no package imports a higher layer, every package is in
the table, the core never imports a plugin and plugins import only mmbind's public surface."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
PLUGIN_SURFACE = ("mmbind", "mmbind.interfaces", "mmbind.errors", "mmbind.media", "mmbind.weightfiles",
                  "mmbind.recipe.strict")


def layers() -> dict[str, int]:
    """package -> layer number, from the table in ARCHITECTURE.md."""
    out = {}
    for number, packages in re.findall(r"^\| (\d+) [^|]*\| ([^|]*) \|", DOC.read_text(encoding="utf-8"),
                                       re.M):
        for name in re.findall(r"`([\w_]+)`", packages):
            out[name] = int(number)
    return out


def runtime_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import that runs (not under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for body in node.body for child in ast.walk(body))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, node.module)]
    return found


def package_of(path: Path) -> str:
    parts = path.relative_to(ROOT / "mmbind").parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def test_the_table_names_every_package():
    table = layers()
    present = {package_of(p) for p in (ROOT / "mmbind").rglob("*.py")}
    assert present - set(table) == set(), "add these packages to docs/ARCHITECTURE.md"


def test_no_package_imports_a_higher_layer_or_a_plugin():
    table = layers()
    wrong = []
    for path in sorted((ROOT / "mmbind").rglob("*.py")):
        source = package_of(path)
        for line, module in runtime_imports(path):
            if module.startswith("mmbind_plugins"):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports the plugin {module}")
            if not module.startswith("mmbind.") or module.startswith("mmbind_plugins"):
                continue
            target = module.split(".")[1]
            if table.get(target, -1) > table[source]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({source}, layer {table[source]}) imports "
                             f"{module} (layer {table[target]})")
    assert wrong == []


def test_plugins_use_only_the_public_surface():
    wrong = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        for line, module in runtime_imports(path):
            if module.startswith("mmbind.") and not module.startswith(PLUGIN_SURFACE[1:]):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            if module.split(".")[0] == "plugins":  # the package is installed as mmbind_plugins
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module} (it is mmbind_plugins)")
    assert wrong == []
