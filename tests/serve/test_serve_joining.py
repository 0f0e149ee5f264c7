"""The waiting policy of the serve worker's continuous batching: waiting requests join the batch in
progress only while the oldest waiting one is compatible with it (then oldest first, up to the room
left), so an incompatible request is never starved: the batch drains and the next one starts with it."""

from __future__ import annotations

from mmbind.serve.batcher import BatchWorker, Pending
from mmbind.serve.chat_request import ChatJob, Sampling

GREEDY, SAMPLED = Sampling(), Sampling(temperature=0.8, top_p=0.9)


def queued(worker: BatchWorker, *samplings: Sampling) -> list[Pending]:
    pendings = [Pending(ChatJob([1, 2], [], 4, s), loop=None) for s in samplings]  # type: ignore[arg-type]
    for pending in pendings:
        worker.submit(pending)
    return pendings


def test_compatible_requests_join_oldest_first_up_to_the_room(generator):
    worker = BatchWorker(generator.model, max_batch=4)
    a, b, c, d = queued(worker, GREEDY, SAMPLED, GREEDY, GREEDY)
    assert worker._joiners(("greedy",), 2) == [a, c]
    assert list(worker._queue) == [b, d]


def test_nobody_joins_while_the_oldest_waiting_request_is_incompatible(generator):
    worker = BatchWorker(generator.model, max_batch=4)
    b, c = queued(worker, SAMPLED, GREEDY)
    assert worker._joiners(("greedy",), 4) == []
    assert worker._take() == [b]  # the next batch starts with it
    assert worker._joiners(SAMPLED.batch_key(0), 4) == []  # c stays for the batch after
    assert list(worker._queue) == [c]
