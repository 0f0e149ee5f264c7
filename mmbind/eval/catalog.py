"""catalog.py

The benchmarks ``mmbind eval`` can run: every one the installed plugins contribute through the ``mmbind``
entry points (hook ``mmbind_benchmarks``, see `mmbind.hookspecs`), mmbind's own included (the paper's video
QA sets in Video-ChatGPT's layout, POPE, a LLaVA-style question file, a generated dataset's held-out sets:
``mmbind_plugins.benchmarks``). A benchmark is found the way an encoder is: the module behind an entry
point named after it is imported when it is asked for. An unknown name is an `UnknownPluginError`
suggesting close matches among every available benchmark.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mmbind.errors import DataError
from mmbind.interfaces.benchmark import EvalSet
from mmbind.prompting.text_guard import check_text
from mmbind.registry import BenchmarkEntry, Registry, default_registry


def benchmark_names(registry: Registry | None = None) -> list[str]:
    """Every available benchmark name (imports every plugin)."""
    return (registry or default_registry()).names("benchmark")


def get_benchmark(name: str, registry: Registry | None = None) -> BenchmarkEntry:
    """The benchmark ``name`` (`UnknownPluginError` with close matches when no plugin contributes it)."""
    return (registry or default_registry()).get("benchmark", name)  # type: ignore[return-value]


def load_benchmark(name: str, data: Path, options: Mapping[str, str] | None = None,
                   registry: Registry | None = None) -> EvalSet:
    """The questions of benchmark ``name`` read from ``data``; an item whose id, question or answer is not
    valid Unicode is a `DataError` naming it (`mmbind.prompting.text_guard`)."""
    eval_set = get_benchmark(name, registry).load(Path(data), dict(options or {}))
    for number, item in enumerate(eval_set.items):
        check_text(str(item.id), f"{eval_set.file}: item {number}: its id", DataError)
        for field in ("question", "answer", "group"):
            check_text(str(getattr(item, field)), f"{eval_set.file}: item {item.id}: its {field}", DataError)
    return eval_set
