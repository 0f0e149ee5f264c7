"""memory.py

Process memory figures for the CPU benchmarks, read from ``/proc/self/status`` (``ru_maxrss`` would include
the parent's peak).
"""

from __future__ import annotations

import resource


def process_memory(field: str = "VmHWM:") -> int:
    """A ``/proc/self/status`` memory figure in bytes (``VmHWM:`` peak RSS, ``VmRSS:`` current), else the
    ``ru_maxrss`` peak where ``/proc`` is missing."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (``VmHWM``) to the current RSS; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True
