"""The layering of docs/ARCHITECTURE.md holds: no package imports a higher layer, every package is in
the table, no two modules of mmbind import each other (directly or round a longer cycle), the core never
imports a plugin and plugins import only mmbind's public surface.

Every import counts: at the top of a module, inside a function, under ``if TYPE_CHECKING:``; relative
imports are resolved, and ``from package import name`` is an import of ``package.name`` when that is a
module, else of ``package`` itself (``from mmbind import X`` of a re-exported name imports
``mmbind/__init__.py``, layer 9)."""

from __future__ import annotations

import ast
import re
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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


def module_name(path: Path) -> str:
    """The dotted name a file is imported as (``plugins/`` is installed as ``mmbind_plugins``)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "plugins":
        parts[0] = "mmbind_plugins"
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


SOURCES = {module_name(p): p for top in ("mmbind", "plugins") for p in sorted((ROOT / top).rglob("*.py"))}


def imports_in(source: str, module: str, is_package: bool, modules: set[str]) -> list[tuple[int, str]]:
    """(line, imported module) of every import in ``source``, the code of ``module``; ``modules``: the
    names that are modules (``from a import b`` imports ``a.b`` when it is one, else ``a``)."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append((node.lineno, submodule if submodule in modules else base))
    return found


def imports(module: str) -> list[tuple[int, str]]:
    path = SOURCES[module]
    return imports_in(path.read_text(encoding="utf-8"), module, path.name == "__init__.py", set(SOURCES))


def package_of(module: str) -> str:
    """The package of the layer table a module of mmbind belongs to (``mmbind`` itself: ``__init__``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def where(module: str, line: int) -> str:
    return f"{SOURCES[module].relative_to(ROOT)}:{line}"


def import_graph() -> dict[str, set[str]]:
    """Module of mmbind -> the modules of mmbind it imports."""
    core = {m for m in SOURCES if m == "mmbind" or m.startswith("mmbind.")}
    return {m: {target for _, target in imports(m) if target in core and target != m} for m in sorted(core)}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The shortest cycle through each module that lies on one, each cycle once, as a chain of module names
    that starts and ends with its smallest."""
    found: set[tuple[str, ...]] = set()
    for start in sorted(graph):
        previous: dict[str, str] = {}
        queue = deque([start])
        while queue and start not in previous:
            node = queue.popleft()
            for target in sorted(graph.get(node, ())):
                if target not in previous:
                    previous[target] = node
                    queue.append(target)
        if start in previous:
            chain = [start]
            while len(chain) == 1 or chain[-1] != start:
                chain.append(previous[chain[-1]])
            ring = chain[::-1][:-1]
            first = ring.index(min(ring))
            found.add(tuple(ring[first:] + ring[:first]))
    return [[*ring, ring[0]] for ring in sorted(found)]


def test_the_table_names_every_package():
    table = layers()
    present = {package_of(m) for m in SOURCES if m == "mmbind" or m.startswith("mmbind.")}
    assert present - set(table) == set(), "add these packages to docs/ARCHITECTURE.md"


def test_no_package_imports_a_higher_layer_or_a_plugin():
    table = layers()
    wrong = []
    for module in (m for m in SOURCES if m == "mmbind" or m.startswith("mmbind.")):
        source = package_of(module)
        for line, target in imports(module):
            if target.split(".")[0] == "mmbind_plugins":
                wrong.append(f"{where(module, line)} imports the plugin {target}")
            if target.split(".")[0] != "mmbind":
                continue
            layer = table.get(package_of(target), -1)
            if layer > table[source]:
                wrong.append(f"{where(module, line)} ({source}, layer {table[source]}) imports {target} "
                             f"(layer {layer})")
    assert wrong == []


def test_no_module_of_mmbind_is_on_an_import_cycle():
    found = [" -> ".join(chain) for chain in cycles(import_graph())]
    assert found == [], "\n".join(found)


def test_plugins_use_only_the_public_surface():
    wrong = []
    for module in (m for m in SOURCES if m.startswith("mmbind_plugins")):
        for line, target in imports(module):
            if target.startswith("mmbind.") and not target.startswith(PLUGIN_SURFACE[1:]):
                wrong.append(f"{where(module, line)} imports {target}")
            if target.split(".")[0] == "plugins":  # the package is installed as mmbind_plugins
                wrong.append(f"{where(module, line)} imports {target} (it is mmbind_plugins)")
    assert wrong == []


def test_every_kind_of_import_is_counted_and_resolved():
    modules = {"mmbind", "mmbind.errors", "mmbind.recipe", "mmbind.recipe.schema", "mmbind.recipe.loader"}
    source = (
        "from typing import TYPE_CHECKING\n"
        "from mmbind import errors, hookimpl\n"
        "from . import schema\n"
        "from .schema import Recipe\n"
        "from .. import recipe\n"
        "if TYPE_CHECKING:\n"
        "    import mmbind.model\n"
        "def later():\n"
        "    from mmbind.registry import Registry\n"
    )
    found = imports_in(source, "mmbind.recipe.loader", False, modules)
    assert sorted(found) == [(1, "typing"), (2, "mmbind"), (2, "mmbind.errors"), (3, "mmbind.recipe.schema"),
                             (4, "mmbind.recipe.schema"), (5, "mmbind.recipe"), (7, "mmbind.model"),
                             (9, "mmbind.registry")]
    in_package = imports_in("from . import loader\n", "mmbind.recipe", True, modules)
    assert in_package == [(1, "mmbind.recipe.loader")]


def test_cycles_are_found_through_every_length_and_reported_once():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": {"e"}, "f": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"], ["e", "e2", "e"]]
    assert cycles({"x": {"y"}, "y": set()}) == []
