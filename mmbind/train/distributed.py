"""distributed.py

torch.distributed for training: process-group setup from torchrun's environment (NCCL on GPUs, gloo on
CPUs), wrapping the loss module in DDP or FSDP2 (``fully_shard`` on every block the LLM backend
declares, `LLMBackend.block_modules`, then the root), gradient-sync control for accumulation, and small
collectives (sums, object gathers).
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0  # global rank
    world: int = 1  # number of ranks
    local_rank: int = 0  # rank on this machine
    device: torch.device = torch.device("cpu")  # where this rank computes

    @property
    def main(self) -> bool:
        """True on rank 0 (writes files, shows progress)."""
        return self.rank == 0


def init_distributed() -> DistInfo:
    """Join the torchrun job if there is one (WORLD_SIZE > 1); pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(minutes=30))
    return DistInfo(rank, world, local, device)


def shutdown() -> None:
    """Leave the process group."""
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, strategy: str, info: DistInfo, units: list[nn.Module] | None = None) -> nn.Module:
    """DDP or FSDP2 around ``module`` when there are several ranks (FSDP2 also on one rank if asked).

    ``fsdp`` shards parameters, gradients and optimizer states and re-shards parameters after each
    forward (ZeRO-3-like); ``fsdp_zero2`` keeps the gathered parameters from forward to backward
    (``reshard_after_forward=False``): sharded gradients and optimizer states, as DeepSpeed ZeRO-2, the
    paper's engine. ``units`` (`fsdp_units`) are sharded one by one before the root.
    """
    if strategy in ("fsdp", "fsdp_zero2"):
        from torch.distributed.fsdp import fully_shard

        if not dist.is_initialized():
            return module
        reshard = strategy == "fsdp"
        for layer in units or []:
            fully_shard(layer, reshard_after_forward=reshard)
        fully_shard(module, reshard_after_forward=reshard)
        return module
    if info.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ids = [info.device.index] if info.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)
    return module


def fsdp_units(model: Any) -> list[nn.Module]:
    """The modules FSDP shards as units: the blocks the LLM backend declares (`LLMBackend.block_modules`)."""
    return list(model.llm.block_modules())


@contextlib.contextmanager
def maybe_no_sync(module: nn.Module, sync: bool) -> Iterator[None]:
    """Skip gradient synchronisation for accumulation micro-batches (DDP and FSDP2)."""
    if sync:
        yield
    elif hasattr(module, "no_sync"):
        with module.no_sync():
            yield
    elif hasattr(module, "set_requires_gradient_sync"):
        module.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            module.set_requires_gradient_sync(True)
    else:
        yield


def sum_all(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sum over ranks (float64)."""
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(tensor)
    return tensor.tolist()


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (a list with one entry when not distributed)."""
    if not dist.is_initialized():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    """Wait for every rank."""
    if dist.is_initialized():
        dist.barrier()


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside DDP."""
    return module.module if hasattr(module, "module") and hasattr(module, "no_sync") else module
