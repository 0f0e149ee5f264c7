"""index_file.py

The shard index ``index.json`` that ``mmbind data shard`` writes next to its shards: a wids shard index
(``"__kind__": "wids-shard-index-v1"``, ``wids_version`` 1 and a ``shardlist`` of ``{url, nsamples,
filesize}``, which wids and other tools read) plus an ``"mmbind"`` block: the format version (`FORMAT`),
the total samples, each shard's sha256 and size, and the records file (``samples.jsonl``: every sample's
LLaVA record, its media named by shard member, in the shards' order) with its sha256. Sample ``n`` (its
key ``%09d``) lies in the shard whose range of samples holds ``n``, so samples have random access by index.
`parse_index` checks all of it (`ShardError` naming the index) and resolves the shards' URLs against the
index's own location (wids' rebasing).
"""

from __future__ import annotations

import bisect
import copy
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from mmbind.errors import ShardError

KIND = "wids-shard-index-v1"
FORMAT = 1  # the layout of shards, records and index this version writes and reads
INDEX = "index.json"
RECORDS = "samples.jsonl"
KEY_DIGITS = 9  # sample keys: the sample's number, zero-padded


@dataclass(frozen=True)
class ShardEntry:
    """One shard of an index."""

    url: str  # resolved against the index's location
    nsamples: int
    sha256: str
    size: int  # bytes


@dataclass(frozen=True)
class ShardIndex:
    """A parsed shard index."""

    where: str  # the index's location, for messages
    shards: tuple[ShardEntry, ...]
    samples: int
    records_url: str
    records_sha256: str

    def shard_of(self, number: int) -> int:
        """The position of the shard holding sample ``number`` (`ShardError` when none does)."""
        ends = list(accumulate(s.nsamples for s in self.shards))
        position = bisect.bisect_right(ends, number)
        if number < 0 or position >= len(self.shards):
            raise ShardError(f"{self.where}: no shard holds sample {number} ({self.samples} samples)")
        return position


def sample_key(number: int) -> str:
    """The key of sample ``number``: the prefix of its members' names in its shard."""
    return f"{number:0{KEY_DIGITS}d}"


def index_document(shards: list[dict[str, Any]], records_sha256: str, name: str) -> dict[str, Any]:
    """The content of ``index.json`` for ``shards`` (each ``{url, nsamples, sha256, size}``)."""
    return {
        "__kind__": KIND,
        "wids_version": 1,
        "name": name,
        "shardlist": [{"url": s["url"], "nsamples": s["nsamples"], "filesize": s["size"]} for s in shards],
        "mmbind": {
            "format": FORMAT,
            "samples": sum(s["nsamples"] for s in shards),
            "records": RECORDS,
            "records_sha256": records_sha256,
            "shards": [{"url": s["url"], "sha256": s["sha256"], "size": s["size"]} for s in shards],
        },
    }


def parse_index(document: Any, where: str, base: str) -> ShardIndex:
    """The index ``document`` read from ``where`` (``base``: the folder or URL its relative URLs are in)."""
    if not isinstance(document, dict) or document.get("__kind__") != KIND:
        raise ShardError(f"{where}: not a wids shard index (no \"__kind__\": \"{KIND}\"); mmbind reads the "
                         f"shards `mmbind data shard` writes (format {FORMAT})")
    block = document.get("mmbind")
    if not isinstance(block, dict):
        raise ShardError(f"{where}: a wids shard index without an 'mmbind' block (written by another tool); "
                         f"mmbind reads format {FORMAT}, written by `mmbind data shard`")
    if block.get("format") != FORMAT:
        raise ShardError(f"{where}: shards of format version {block.get('format')!r}; this version of mmbind "
                         f"reads format {FORMAT} (write them again with its `mmbind data shard`)")
    from wids.wids_specs import resolve_dsdesc

    try:
        resolved = resolve_dsdesc(copy.deepcopy(document), base=base)["shardlist"]
        listed = block["shards"]
        if len(listed) != len(resolved) or [s["url"] for s in listed] != \
                [s["url"] for s in document["shardlist"]]:
            raise ValueError("'mmbind.shards' does not list the shards of 'shardlist'")
        shards = tuple(ShardEntry(str(r["url"]), _count(r["nsamples"]), str(s["sha256"]), _count(s["size"]))
                       for r, s in zip(resolved, listed))
        samples = _count(block["samples"])
        held = sum(s.nsamples for s in shards)
        if samples != held:
            raise ValueError(f"'mmbind.samples' is {samples}, the shards hold {held}")
        records = resolve_dsdesc({"wids_version": 1, "shardlist": [{"url": block["records"], "nsamples": 0}]},
                                 base=base)["shardlist"][0]["url"]
        return ShardIndex(where, shards, samples, str(records), str(block["records_sha256"]))
    except (AssertionError, KeyError, TypeError, ValueError) as exc:
        raise ShardError(f"{where}: malformed shard index ({type(exc).__name__}: {exc})") from None


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a count, got {value!r}")
    return value
