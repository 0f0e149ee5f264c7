"""Every hook of `mmbind.hookspecs` is documented (as datasette checks its hooks): a docstring that says
what it returns, and a row in the hook tables of the README and of docs/plugins.md; and neither table names
a hook that does not exist."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from mmbind import hookspecs

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PLUGINS_PAGE = ROOT / "docs" / "plugins.md"


def hooks() -> dict[str, object]:
    return {name: fn for name, fn in vars(hookspecs).items() if name.startswith("mmbind_") and callable(fn)}


def test_every_hook_has_a_docstring_naming_what_it_returns():
    assert set(hooks()) >= {"mmbind_encoders", "mmbind_projectors", "mmbind_llms", "mmbind_benchmarks"}
    for name, fn in hooks().items():
        doc = inspect.getdoc(fn) or ""
        returned = inspect.signature(fn).return_annotation.removeprefix("list[").removesuffix("]")
        assert doc.startswith("Contribute") and returned in doc, name


def test_the_readme_table_lists_exactly_the_hooks():
    rows = set(re.findall(r"^\| `(mmbind_\w+)` \|", README.read_text(encoding="utf-8"), re.M))
    assert rows == set(hooks())


def test_the_plugins_page_table_lists_exactly_the_hooks():
    rows = set(re.findall(r"^\| `(mmbind_\w+)` \|", PLUGINS_PAGE.read_text(encoding="utf-8"), re.M))
    assert rows == set(hooks())
