"""mmbind.numerics

The reproducible numerics mode and the numerics fingerprint of a run. CPU float kernels are chosen when
torch starts (ATen's CPU capability, MKL's and oneDNN's code paths) and results also depend on the thread
counts, so the same commit and seed give other bits on another machine. The mode pins all of them before
torch is imported (`pin.py`); every run folder records what it ran under (`fingerprint.py`), and sweeps
refuse to compare runs whose numerics differ.
"""

from mmbind.numerics.fingerprint import (
    NUMERICS_FILE,
    fingerprint,
    fingerprint_id,
    fingerprint_text,
    read_run_numerics,
    record_run_numerics,
)
from mmbind.numerics.pin import (
    MODE_ENV,
    configure_torch,
    ensure_pinned,
    pinned_env,
    pinned_threads,
    released_env,
)

__all__ = [
    "MODE_ENV", "NUMERICS_FILE", "configure_torch", "ensure_pinned", "fingerprint", "fingerprint_id",
    "fingerprint_text", "pinned_env", "pinned_threads", "read_run_numerics", "record_run_numerics",
    "released_env",
]
