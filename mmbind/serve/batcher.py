"""batcher.py

`BatchWorker`: the one thread that owns the model. Requests wait in a FIFO queue. When no batch is running
the worker takes the oldest one plus every waiting request whose sampling settings are compatible with it
(all greedy ones together; sampled ones with equal temperature and top_p; a request with a ``seed``
alone), up to ``max_batch`` of them, prefills them together (prompts left-padded) and generates the batch
one token at a time with a KV cache (`mmbind.inference.decode_loop.ContinuousBatch`: continuous batching).

Each row streams its own tokens and finishes on its own: end of sequence, its ``max_tokens`` or a stop
string -- its answer is delivered at once and the row leaves the batch (its KV cache is freed), and a
client that goes away frees its row too. Between steps, waiting requests join the batch in progress
while it has room and the oldest waiting request is compatible with it (then it and the compatible ones
after it join, oldest first); a batch ends when its last row does.

Waiting is bounded: when the oldest waiting request is not compatible with the batch in progress, nobody joins
that batch any more, so it ends within ``max_tokens`` steps and the next batch starts with that request; a
compatible request joins as soon as a row is free (rows last at most ``max_tokens`` steps) and no request is
overtaken by a younger compatible one. After a batch that had several requests the worker waits up to
``batch_wait_s`` (default 10 ms) for their clients' next requests before starting the next batch (until as
many wait as that batch had); after a lone request it does not wait, so one client alone sees no added
latency. The queue holds ``max_queue`` requests; beyond that a request is refused (429) instead of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import torch

from mmbind.data.build import pad_id
from mmbind.inference.decode_loop import ContinuousBatch
from mmbind.model.media_items import stack_items, to_device
from mmbind.serve.chat_request import ChatJob, Sampling
from mmbind.serve.request_error import RequestError
from mmbind.serve.row_text import RowText


@dataclass
class Pending:
    """A queued request and the channel its events go back through (on the server's event loop)."""

    job: ChatJob
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: bool = False
    row: RowText | None = None
    number: int = 0
    enqueued: float = field(default_factory=time.monotonic)

    def send(self, kind: str, payload: Any) -> None:
        """Hand an event (``delta``, ``done`` or ``error``) to the waiting request handler."""
        self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, payload))

    def key(self) -> tuple[Any, ...]:
        """Requests with equal keys may be generated together."""
        return self.job.sampling.batch_key(self.number)


def _push(pending: Pending, token: int) -> None:
    """Give the row its next token; stream what may be sent and deliver the answer when it is done."""
    row = pending.row
    assert row is not None
    delta = row.push(token)
    if delta:
        pending.send("delta", delta)
    if row.done:
        rest = row.finish()
        if rest:
            pending.send("delta", rest)
        pending.send("done", {"content": row.final(), "finish_reason": row.finish_reason,
                              "completion_tokens": len(row.tokens)})


@contextlib.contextmanager
def _seeded(sampling: Sampling, device: torch.device) -> Iterator[None]:
    """The random state of a seeded request (its batch has only it), restored afterwards."""
    if sampling.seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(sampling.seed)
        yield


class BatchWorker:
    """Owns the model; generates queued requests in continuous batches on its own thread."""

    def __init__(
        self, model: Any, max_batch: int = 16, max_queue: int = 256, batch_wait_s: float = 0.0
    ) -> None:
        self.model = model
        self.tokenizer = model.llm.tokenizer
        self.eos_id = self.tokenizer.eos_token_id
        self.pad_id = pad_id(self.tokenizer)
        self.device = next(model.parameters()).device
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.batch_wait_s = batch_wait_s
        self._queue: deque[Pending] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._numbers = count()
        self._thread: threading.Thread | None = None
        self.batches = 0  # batches started (requests may join one in progress; for /health and tests)
        self.largest_batch = 0  # most rows generated together in one step
        self.busy = False
        self._last_size = 0

    # ----------------------------------------------------------------- control
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mmbind-serve-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def submit(self, pending: Pending) -> None:
        """Queue a request (RequestError 429 when the queue is full)."""
        with self._cond:
            if len(self._queue) >= self.max_queue:
                raise RequestError(429,
                                   f"the server is busy ({self.max_queue} requests waiting); retry later",
                                   "queue_full")
            pending.number = next(self._numbers)
            self._queue.append(pending)
            self._cond.notify()

    # ------------------------------------------------------------------ queue
    def _pop(self, key: tuple[Any, ...], room: int) -> list[Pending]:
        """Up to ``room`` waiting requests with ``key``, oldest first (call with the lock held)."""
        taken: list[Pending] = []
        for pending in list(self._queue):
            if len(taken) >= room:
                break
            if pending.key() == key:
                taken.append(pending)
                self._queue.remove(pending)
        return taken

    def _take(self) -> list[Pending] | None:
        """The first requests of the next batch: the oldest waiting one and those compatible with it."""
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            if self.batch_wait_s > 0 and self._last_size > 1:  # clients are concurrent: let them catch up
                deadline, enough = time.monotonic() + self.batch_wait_s, min(self._last_size, self.max_batch)
                while len(self._queue) < enough and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
            return self._pop(self._queue[0].key(), self.max_batch)

    def _joiners(self, key: tuple[Any, ...], room: int) -> list[Pending]:
        """Requests that join the batch in progress now: only while the oldest waiting one is compatible."""
        if room <= 0 or not self._queue:
            return []
        with self._cond:
            if not self._queue or self._stopping or self._queue[0].key() != key:
                return []
            return self._pop(key, room)

    # ------------------------------------------------------------------ worker
    def _loop(self) -> None:
        while (first := self._take()) is not None:
            self.busy = True
            try:
                self._last_size = self._run(first)
            finally:
                self.busy = False

    def inputs(self, jobs: list[ChatJob]) -> dict[str, Any]:
        """Left-padded ids and mask, and the media items of every row in order."""
        width = max(len(j.prompt_ids) for j in jobs)
        ids = torch.full((len(jobs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(jobs), width), dtype=torch.long)
        media: dict[str, list[torch.Tensor]] = {}
        for i, job in enumerate(jobs):
            ids[i, width - len(job.prompt_ids):] = torch.tensor(job.prompt_ids, dtype=torch.long)
            mask[i, width - len(job.prompt_ids):] = 1
            for modality, pixels in job.media:
                media.setdefault(modality, []).append(pixels)
        stacked = {m: to_device(stack_items(items), self.device) for m, items in media.items()}
        return {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device), "media": stacked}

    def _join(self, batch: ContinuousBatch, joining: list[Pending]) -> list[Pending]:
        """Prefill ``joining`` into ``batch``; the rows that joined (those that failed get an error)."""
        joining = [p for p in joining if not p.cancelled]
        if not joining:
            return []
        for pending in joining:
            job = pending.job
            pending.row = RowText(self.tokenizer, self.eos_id, job.max_tokens, job.stop, job.stream)
        try:
            batch.join(**self.inputs([p.job for p in joining]))
        except Exception as exc:  # RequestError: the client's; anything else: a bug, answered 500
            for pending in joining:
                pending.send("error", exc)
            return []
        return joining

    def _run(self, first: list[Pending]) -> int:
        """Generate a batch until its last row is done, letting waiting requests join; its peak size."""
        sampling = first[0].job.sampling
        key = first[0].key()
        batch = ContinuousBatch(self.model, sampling.temperature, sampling.top_p)
        active: list[Pending] = []
        joining, peak = first, 0
        self.batches += 1
        with _seeded(sampling, self.device), torch.no_grad():
            while True:
                active += self._join(batch, joining)
                if not active:
                    return peak
                peak = max(peak, len(active))
                self.largest_batch = max(self.largest_batch, len(active))
                try:
                    tokens = batch.next_tokens()
                    for pending, token in zip(active, tokens):
                        _push(pending, token)
                    keep = [i for i, p in enumerate(active) if not (p.cancelled or p.row and p.row.done)]
                    active = [active[i] for i in keep]
                    batch.advance(tokens, keep)
                except Exception as exc:  # a bug, not the client's fault: answer 500, keep serving
                    for pending in active:
                        pending.send("error", exc)
                    return peak
                joining = self._joiners(key, self.max_batch - len(active))
