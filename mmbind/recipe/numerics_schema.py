"""numerics_schema.py

The recipe's ``numerics:`` section: whether the run trains in the reproducible numerics mode (the same
bits on any x86-64 machine; see `mmbind.numerics`) and with how many threads. Left out of a recipe (and of
its dump) when it is the default, so recipes and run folders from before the mode read and compare as they
did.
"""

from __future__ import annotations

from pydantic import Field

from mmbind.recipe.strict import StrictModel


class NumericsSpec(StrictModel):
    """How the run's floating-point kernels are chosen."""

    reproducible: bool = Field(
        False,
        description="pin the CPU kernels' instruction set (ATen default, MKL COMPATIBLE, oneDNN SSE4.1), the "
                    "thread counts and deterministic algorithms before torch starts, so the same recipe and "
                    "seed give the same bits on any x86-64 machine (slower)",
    )
    threads: int = Field(
        1, ge=1, le=256,
        description="intra- and inter-op threads in the reproducible mode (part of the numerics: another "
                    "count gives other bits); 1 lets `mmbind ablate --jobs N` run N runs on N cores",
    )
