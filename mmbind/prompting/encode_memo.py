"""encode_memo.py

`EncodeMemo`: the training tokenizer's results kept for later epochs. Encoding a sample (its segments one by
one, then the whole prompt as a check) is deterministic, and every epoch asks for the same samples again:
after the first, the stored ids and labels are handed back (fresh lists, so callers may change them). Ids
and labels are kept as 32-bit arrays, at most `LIMIT_TOKENS` tokens in all (about 64 MB); samples beyond
that are simply encoded every time.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

LIMIT_TOKENS = 8_000_000  # tokens kept over all samples


class EncodeMemo:
    """Segments of one sample -> (input_ids, labels, media, media_positions)."""

    def __init__(self, limit_tokens: int = LIMIT_TOKENS) -> None:
        self.limit = limit_tokens
        self.tokens = 0  # tokens kept so far
        self._store: dict[tuple[Any, ...], tuple[array, array, tuple[str, ...], tuple[int, ...]]] = {}

    def get(self, key: tuple[Any, ...]) -> tuple[list[int], list[int], list[str], list[int]] | None:
        """What was stored for ``key`` (None: nothing)."""
        found = self._store.get(key)
        if found is None:
            return None
        ids, labels, media, positions = found
        return ids.tolist(), labels.tolist(), list(media), list(positions)

    def put(self, key: tuple[Any, ...], ids: Sequence[int], labels: Sequence[int], media: Sequence[str],
            positions: Sequence[int]) -> None:
        """Keep a sample's encoding while the limit allows."""
        if key in self._store or self.tokens + len(ids) > self.limit:
            return
        self._store[key] = (array("i", ids), array("i", labels), tuple(media), tuple(positions))
        self.tokens += len(ids)
