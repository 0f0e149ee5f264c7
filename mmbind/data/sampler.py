"""sampler.py

The order in which samples are seen: `EpochOrder` gives each epoch's global order (files mixed by weight,
shuffled with ``seed + epoch``; optionally grouped by modality and length), identical on every rank and
whatever the world size. Optimizer step ``s`` consumes ``order[s*G:(s+1)*G]`` (``G`` = global batch);
micro-batch ``m`` of rank ``r`` takes slot ``m*world + r`` of it, so one rank with ``A`` accumulation steps
sees exactly the samples that ``A`` ranks see together. The position in the data is (epoch, step): enough
to resume exactly, on any world size. Every stage kind orders its samples with it: conversations, preference
pairs and the encoder pre-training stages' media-caption pairs (``drop_last``: whole global batches only,
as a contrastive loss over the batch needs).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator

from torch.utils.data import Sampler


class EpochOrder:
    """Deterministic per-epoch global sample order."""

    def __init__(
        self,
        file_sizes: list[int],
        weights: list[float],
        global_batch: int,
        seed: int = 0,
        group_length: Callable[[int], tuple[str, int]] | None = None,
        drop_last: bool = False,
    ) -> None:
        self.file_sizes = file_sizes
        self.weights = weights
        self.global_batch = global_batch
        self.seed = seed
        self.group_length = group_length  # index -> (modality group, length); set to group batches
        self.drop_last = drop_last  # only whole global batches: the rest of an epoch is left out

    def __len__(self) -> int:
        return sum(
            math.floor(w) * n + round((w - math.floor(w)) * n)
            for n, w in zip(self.file_sizes, self.weights)
        )

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps in one epoch (the last one may be short, unless ``drop_last``)."""
        if self.drop_last:
            return len(self) // self.global_batch
        return math.ceil(len(self) / self.global_batch)

    def order(self, epoch: int) -> list[int]:
        """Dataset indices of ``epoch`` in the order they are consumed."""
        rng = random.Random(self.seed * 1_000_003 + epoch)
        chosen: list[int] = []
        start = 0
        for n, w in zip(self.file_sizes, self.weights):
            base = list(range(start, start + n))
            whole = math.floor(w)
            chosen += base * whole
            chosen += rng.sample(base, round((w - whole) * n))
            start += n
        rng.shuffle(chosen)
        ordered = chosen if self.group_length is None else self._grouped(chosen, rng)
        return ordered[: self.steps_per_epoch * self.global_batch] if self.drop_last else ordered

    def _grouped(self, indices: list[int], rng: random.Random) -> list[int]:
        """Global batches of one modality, sorted by length within (LLaVA's modality-length grouping)."""
        groups: dict[str, list[int]] = {}
        info = {i: self.group_length(i) for i in set(indices)}  # type: ignore[misc]
        for i in indices:
            groups.setdefault(info[i][0], []).append(i)
        full, rest = [], []
        for name in sorted(groups):
            members = groups[name]
            cut = len(members) - len(members) % self.global_batch
            full += [members[j:j + self.global_batch] for j in range(0, cut, self.global_batch)]
            rest += members[cut:]
        rng.shuffle(full)
        chunks = full + [rest[j:j + self.global_batch] for j in range(0, len(rest), self.global_batch)]
        return [i for chunk in chunks for i in sorted(chunk, key=lambda i: -info[i][1])]


def micro_batch(
    order: list[int], step: int, micro: int, rank: int, world: int, per_device: int, global_batch: int
) -> list[int]:
    """Indices of micro-batch ``micro`` of rank ``rank`` in optimizer step ``step``."""
    slot = micro * world + rank
    begin = step * global_batch + slot * per_device
    end = min(begin + per_device, (step + 1) * global_batch)
    return order[begin:end] if begin < end else []


class RankBatches(Sampler[list[int]]):
    """Batch sampler for one rank: the micro-batches of steps ``start_step`` .. ``end_step - 1``."""

    def __init__(
        self, order: list[int], start_step: int, end_step: int, accum: int, rank: int, world: int,
        per_device: int, global_batch: int,
    ) -> None:
        self.args = (order, start_step, end_step, accum, rank, world, per_device, global_batch)

    def __iter__(self) -> Iterator[list[int]]:
        order, start, end, accum, rank, world, per_device, global_batch = self.args
        for step in range(start, end):
            for micro in range(accum):
                yield micro_batch(order, step, micro, rank, world, per_device, global_batch)

    def __len__(self) -> int:
        return (self.args[2] - self.args[1]) * self.args[3]
