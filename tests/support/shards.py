"""Shared helpers of the shard tests: writing the tiny dataset as shards, serving a folder over HTTP on
127.0.0.1 (recording which files were asked for), and recipe overrides reading shards."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

from mmbind.shards.write import ShardReport, write_shards


def shard(out: Path, *sources: Path, shard_size: int = 6000, **kwargs) -> ShardReport:
    """Write ``sources`` as shards of about ``shard_size`` bytes into ``out`` (small: several shards)."""
    return write_shards([str(s) for s in sources], out, {}, shard_size, **kwargs)


def shard_overrides(pretrain: str, finetune: str, cache: Path, max_bytes: int | str = "1GB") -> list[str]:
    """Overrides pointing the tiny training recipe's datasets at shards and the shard cache at ``cache``."""
    return [f"data.datasets.pretrain.files=[{{shards: '{pretrain}'}}]",
            f"data.datasets.finetune.files=[{{shards: '{finetune}'}}]",
            f"data.shard_cache={{dir: {cache}, max_bytes: {max_bytes}}}"]


class _Handler(http.server.SimpleHTTPRequestHandler):
    asked: list[str]

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        self.asked.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve ``folder`` on 127.0.0.1 (a free port) in a thread: (its URL, the paths asked for so far)."""
    asked: list[str] = []
    handler = type("Handler", (_Handler,), {"asked": asked})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
