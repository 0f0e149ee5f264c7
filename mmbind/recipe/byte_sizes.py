"""byte_sizes.py

Sizes in bytes written the way people write them: ``20GB``, ``256MB``, ``1.5GiB``, ``4096`` (decimal units
kB / MB / GB / TB, binary units KiB / MiB / GiB / TiB, case-insensitive, ``B`` optional). Used by the
recipe's ``data.shard_cache.max_bytes`` and ``mmbind data shard --shard-size``.
"""

from __future__ import annotations

import re

UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str) -> int:
    """Bytes of ``text`` (``"20GB"`` -> 20_000_000_000); `ValueError` naming the accepted forms."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in UNITS:
        raise ValueError(f"expected a size such as 20GB, 256MB or 512MiB, got {text!r}")
    size = int(float(match.group(1)) * UNITS[unit])
    if size < 1:
        raise ValueError(f"expected a size of at least 1 byte, got {text!r}")
    return size
