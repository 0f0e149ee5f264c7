"""mmbind.eval.benchmarks

Published benchmarks read from their local files (never downloaded): the Video-ChatGPT zero-shot QA
layout of the paper's MSVD-QA, MSRVTT-QA, TGIF-QA and ActivityNet-QA (`videoqa`), POPE's three split
files (`pope`), a generic LLaVA-style question file (`llava_qa`); plugins add more (`catalog`). Each
loader returns an `EvalSet`; `mmbind.eval.bench_run` generates, judges and scores it.
"""

from mmbind.eval.benchmarks.catalog import BUILTIN, benchmark_names, get_benchmark, load_benchmark
from mmbind.eval.benchmarks.llava_qa import load_llava_qa
from mmbind.eval.benchmarks.pope import load_pope
from mmbind.eval.benchmarks.videoqa import load_videoqa

__all__ = ["BUILTIN", "benchmark_names", "get_benchmark", "load_benchmark", "load_llava_qa", "load_pope",
           "load_videoqa"]
