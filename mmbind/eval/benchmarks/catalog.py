"""catalog.py

The benchmark registry: the built-in benchmarks (the paper's video QA sets in Video-ChatGPT's layout,
POPE, a generic LLaVA-style question file) and those third-party packages contribute through the
``mmbind`` entry points (hook ``mmbind_benchmarks``, see `mmbind.hookspecs`), found the way encoders are
(the module behind an entry point named after the benchmark is imported when it is asked for). A
built-in name cannot be taken over by a plugin. An unknown name is an `UnknownPluginError` suggesting
close matches among every available benchmark.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

from mmbind.errors import UnknownPluginError
from mmbind.eval.benchmarks.llava_qa import load_llava_qa
from mmbind.eval.benchmarks.pope import load_pope
from mmbind.eval.benchmarks.videoqa import videoqa_loader
from mmbind.eval.sets import EvalSet
from mmbind.registry import BenchmarkEntry, Registry

BUILTIN: dict[str, BenchmarkEntry] = {
    e.name: e for e in (
        BenchmarkEntry("msvd_qa", videoqa_loader("msvd_qa"), "MSVD-QA, Video-ChatGPT zero-shot QA layout"),
        BenchmarkEntry("msrvtt_qa", videoqa_loader("msrvtt_qa"),
                       "MSRVTT-QA, Video-ChatGPT zero-shot QA layout"),
        BenchmarkEntry("tgif_qa", videoqa_loader("tgif_qa"), "TGIF-QA, Video-ChatGPT zero-shot QA layout"),
        BenchmarkEntry("activitynet_qa", videoqa_loader("activitynet_qa"),
                       "ActivityNet-QA, Video-ChatGPT zero-shot QA layout"),
        BenchmarkEntry("videochatgpt_qa", videoqa_loader("videochatgpt_qa"),
                       "any set in Video-ChatGPT's zero-shot QA layout"),
        BenchmarkEntry("pope", load_pope, "POPE: the three negative-sampling splits, scored as eval_pope.py"),
        BenchmarkEntry("llava_qa", load_llava_qa,
                       "a LLaVA-style question file (JSONL id / media / question)"),
    )
}


def benchmark_names(registry: Registry | None = None) -> list[str]:
    """Every available benchmark name (imports every plugin)."""
    registry = registry if registry is not None else _default()
    return sorted(set(BUILTIN) | set(registry.names("benchmark")))


def get_benchmark(name: str, registry: Registry | None = None) -> BenchmarkEntry:
    """The benchmark ``name``: built in, else from a plugin."""
    if name in BUILTIN:
        return BUILTIN[name]
    registry = registry if registry is not None else _default()
    try:
        return registry.get("benchmark", name)  # type: ignore[return-value]
    except UnknownPluginError:
        known = benchmark_names(registry)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = ("did you mean " + " or ".join(f"'{c}'" for c in close) + "?") if close else \
            f"available: {', '.join(known)}"
        raise UnknownPluginError(f"unknown benchmark '{name}'; {hint}") from None


def load_benchmark(name: str, data: Path, options: Mapping[str, str] | None = None,
                   registry: Registry | None = None) -> EvalSet:
    """The questions of benchmark ``name`` read from ``data``."""
    return get_benchmark(name, registry).load(Path(data), dict(options or {}))


def _default() -> Registry:
    from mmbind.registry import default_registry

    return default_registry()
