"""pin.py

Pinning a process to the reproducible numerics mode. The values are the portable baseline, the same on any
x86-64 machine whatever its processor:

- ``ATEN_CPU_CAPABILITY=default``: ATen's kernels (matmul, softmax, GELU, layer norm, SDPA ...) as built for
  the x86-64 baseline; the AVX2 and AVX-512 builds a newer processor would pick add in another order.
- ``MKL_CBWR=COMPATIBLE`` and ``MKL_DYNAMIC=FALSE``: MKL's conditional numerical reproducibility on its
  SSE2-compatible code path (Intel and AMD alike), with the thread count it is given.
- ``ONEDNN_MAX_CPU_ISA=SSE41``: oneDNN's just-in-time kernels at the oldest instruction set it generates.
- ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` and torch's intra- and inter-op threads fixed at the recipe's
  ``numerics.threads`` (default 1): a parallel reduction splits its work by the thread count.
- deterministic algorithms (``torch.use_deterministic_algorithms``; ``CUBLAS_WORKSPACE_CONFIG`` for GPUs,
  where bits are the same only across identical GPUs and CUDA versions).

These are read once, when torch and its libraries start, so they must be in the environment before torch is
imported. `ensure_pinned` sets them when torch has not been imported yet, re-executes the command (the CLI
only: the same argv, the environment set) when it has, and refuses otherwise. Child processes (a sweep's
runs, DDP ranks) inherit the environment. ``MMBIND_NUMERICS`` marks a pinned process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from mmbind.errors import NumericsError

MODE_ENV = "MMBIND_NUMERICS"  # "reproducible threads=T" in a pinned process
PORTABLE = {
    "ATEN_CPU_CAPABILITY": "default",
    "MKL_CBWR": "COMPATIBLE",
    "MKL_DYNAMIC": "FALSE",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
}
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pinned_env(threads: int) -> dict[str, str]:
    """The environment of the reproducible mode with ``threads`` threads."""
    return {**PORTABLE, **{name: str(threads) for name in THREAD_VARS},
            MODE_ENV: f"reproducible threads={threads}"}


def pinned_threads(environ: Mapping[str, str] | None = None) -> int | None:
    """The thread count of the mode ``environ`` (default: this process's) is pinned to; None when it is not
    pinned (or one of the pinned variables was changed since)."""
    environ = os.environ if environ is None else environ
    marker = environ.get(MODE_ENV, "")
    prefix = "reproducible threads="
    if not marker.startswith(prefix) or not marker[len(prefix):].isdigit():
        return None
    threads = int(marker[len(prefix):])
    same = all(environ.get(k) == v for k, v in pinned_env(threads).items())
    return threads if same else None


def released_env(environ: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``environ`` for a child in the default mode: without what a pinned parent set."""
    out = dict(environ)
    if MODE_ENV in out:
        for name in (*PORTABLE, *THREAD_VARS, MODE_ENV):
            out.pop(name, None)
    return out


def ensure_pinned(threads: int, *, reexec: bool, who: str) -> None:
    """Make this process run in the reproducible mode with ``threads`` threads: nothing to do when it already
    does; set the environment when torch has not started; re-execute the same command with it set when
    ``reexec`` (the command line's own process); else a `NumericsError` (``who``: what asked for it)."""
    env = pinned_env(threads)
    if pinned_threads() == threads:
        configure_torch()
        return
    if "torch" not in sys.modules:
        os.environ.update(env)
        return
    if reexec and getattr(sys, "orig_argv", None):
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], {**os.environ, **env})
    settings = " ".join(f"{k}={v}" for k, v in env.items())
    raise NumericsError(
        f"{who}: the reproducible numerics mode must be set before torch is imported, and this process has "
        f"imported it already; run the command line (`mmbind ... --reproducible`), or start Python with "
        f"{settings}"
    )


def configure_torch() -> None:
    """In a pinned process: torch's thread counts and deterministic algorithms (the part of the mode set
    through torch itself). Nothing in the default mode; idempotent."""
    threads = pinned_threads()
    if threads is None:
        return
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # set once per process, before any inter-op work: a second call is refused
        pass
    torch.use_deterministic_algorithms(True)
