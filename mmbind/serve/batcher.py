"""batcher.py

`BatchWorker`: the one thread that owns the model. Requests wait in a FIFO queue; the worker takes the
oldest one plus every waiting request whose sampling settings are compatible with it (all greedy ones
together; sampled ones with equal temperature and top_p; a request with a ``seed`` alone), up to
``max_batch`` of them, and generates them together: prompts left-padded, one KV-cached ``generate``.

Each row streams its own tokens (a per-step streamer sees every row's next token) and finishes on its own:
end of sequence, its ``max_tokens`` or a stop string -- its answer is delivered at once, while the rest
of the batch goes on; a batch ends when its last row does. A client that goes away frees its row.

Waiting is bounded: a new request joins the next batch unless that one is full of older requests or
needs other sampling settings; every batch is capped at ``max_batch`` requests and ``max_tokens`` new
tokens, so a request waits for at most the batch in progress plus the batches of the requests queued before
it. After a batch of several requests the worker waits up to ``batch_wait_s`` (default 10 ms) for their
clients' next requests before starting the next batch; after a lone request it does not wait, so one client
alone sees no added latency. The queue holds ``max_queue`` requests; beyond that a request is refused
(429) instead of waiting.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from mmbind.data.build import pad_id
from mmbind.serve.chat_request import ChatJob
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


class _RowStreamer(BaseStreamer):
    """Feeds each step's tokens to the batch's rows and delivers finished answers."""

    def __init__(self, rows: list[Pending]) -> None:
        self.rows = rows

    def put(self, value: torch.Tensor) -> None:
        if value.dim() > 1:  # the prompt (empty: generation starts from embeddings)
            return
        for pending, token in zip(self.rows, value.tolist()):
            row = pending.row
            assert row is not None
            if row.done:
                continue
            delta = row.push(int(token))
            if delta:
                pending.send("delta", delta)
            if row.done:
                _deliver(pending)

    def end(self) -> None:
        for pending in self.rows:
            if pending.row is not None and not pending.row.done:
                _deliver(pending)


class _RowsDone(StoppingCriteria):
    """Per-row stop: finished or abandoned rows stop generating."""

    def __init__(self, rows: list[Pending]) -> None:
        self.rows = rows

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        done = [bool(p.row and p.row.done) or p.cancelled for p in self.rows]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _deliver(pending: Pending) -> None:
    row = pending.row
    assert row is not None
    rest = row.finish()
    if rest:
        pending.send("delta", rest)
    pending.send("done", {"content": row.final(), "finish_reason": row.finish_reason,
                          "completion_tokens": len(row.tokens)})


class BatchWorker:
    """Owns the model; generates queued requests in batches on its own thread."""

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
        self.batches = 0  # batches generated (for /health and tests)
        self.largest_batch = 0
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

    # ------------------------------------------------------------------ worker
    def _take(self) -> list[Pending] | None:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            if self.batch_wait_s > 0 and self._last_size > 1:  # clients are concurrent: let them catch up
                deadline = time.monotonic() + self.batch_wait_s
                while len(self._queue) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
            head = self._queue.popleft()
            key = head.job.sampling.batch_key(head.number)
            batch = [head]
            for pending in list(self._queue):
                if len(batch) >= self.max_batch:
                    break
                if pending.job.sampling.batch_key(pending.number) == key:
                    batch.append(pending)
                    self._queue.remove(pending)
            return batch

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            batch = [p for p in batch if not p.cancelled]
            self._last_size = len(batch)
            if not batch:
                continue
            self.busy = True
            try:
                self._generate(batch)
            except RequestError as exc:
                for pending in batch:
                    pending.send("error", exc)
            except Exception as exc:  # a bug, not the client's fault: answer 500, keep serving
                for pending in batch:
                    pending.send("error", exc)
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
        stacked = {m: torch.stack(items).to(self.device) for m, items in media.items()}
        return {"input_ids": ids.to(self.device), "attention_mask": mask.to(self.device), "media": stacked}

    @torch.no_grad()
    def _generate(self, batch: list[Pending]) -> None:
        jobs = [p.job for p in batch]
        for pending in batch:
            pending.row = RowText(self.tokenizer, self.eos_id, pending.job.max_tokens, pending.job.stop,
                                  pending.job.stream)
        sampling = jobs[0].sampling
        options: dict[str, Any] = {"do_sample": False}
        if not sampling.greedy:
            options = {"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p,
                       "top_k": 0}
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        run = lambda: self.model.generate(  # noqa: E731
            **self.inputs(jobs), max_new_tokens=max(j.max_tokens for j in jobs),
            eos_token_id=self.eos_id, streamer=_RowStreamer(batch),
            stopping_criteria=StoppingCriteriaList([_RowsDone(batch)]), **options)
        if sampling.seed is None:
            run()
            return
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(sampling.seed)
            run()
