"""decode_budget.py

`DecodeBudget`: the bytes of media the server decodes at once, across all requests. A request reserves the
decoded size of its media (told from their headers, `mmbind.interfaces.MediaLoader.decoded_bytes`) before
anything is decoded and gives it back when its tensors are made; a request that does not fit waits until
earlier ones finish, and is answered 429 if that takes longer than ``wait_s``. With the per-request limit
(``--max-decoded-mb``) this bounds what decoding adds to the server's memory, however many clients send
media at once. `release_large_blocks` makes the memory of freed decode buffers go back to the system
(glibc otherwise keeps blocks under 32 MB in per-thread arenas, and many request threads would each hold
one: measured, 12 concurrent 4000 x 4000 images within a 128 MB budget grew the server by 300-480 MB with
glibc's defaults and by 175 MB with this; tests/serve/test_serve_media_limits.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import threading
from collections.abc import Iterator

from mmbind.serve.request_error import RequestError


class DecodeBudget:
    """``total`` bytes shared by the requests decoding media now."""

    def __init__(self, total: int, wait_s: float = 60.0) -> None:
        self.total = total
        self.wait_s = wait_s
        self.in_use = 0  # bytes reserved now
        self.peak = 0  # the most ever reserved at once
        self._free = threading.Condition()

    @contextlib.contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        """Hold ``size`` bytes (at most ``total``) while the block runs."""
        size = min(size, self.total)
        with self._free:
            if not self._free.wait_for(lambda: self.in_use + size <= self.total, timeout=self.wait_s):
                raise RequestError(429, "the server is decoding too much media right now; retry later",
                                   "decoding_busy")
            self.in_use += size
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._free:
                self.in_use -= size
                self._free.notify_all()


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def release_large_blocks(threshold: int = 8 * 2**20) -> bool:
    """Have glibc serve allocations of ``threshold`` bytes or more by ``mmap``, so freeing them returns the
    memory at once (decoded images and frames, their float copies); False where the C library is not glibc.
    The server's process calls it once at start."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        return False
    return bool(mallopt and mallopt(_M_MMAP_THRESHOLD, threshold) == 1)
