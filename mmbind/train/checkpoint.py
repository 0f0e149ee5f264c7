"""checkpoint.py

Training checkpoints under ``RUN/checkpoints/ckpt-s<stage>-<step>/``: the trainable weights (safetensors,
names relative to the model), the optimizer (keyed by parameter name, so it restores on any world size,
FSDP included), the scheduler, every rank's RNG states and ``state.json`` (stage, step, data position,
counters). Written into a temporary directory that is renamed when complete; the last N are kept.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

from mmbind.errors import CheckpointError
from mmbind.train.distributed import DistInfo, barrier, unwrap
from mmbind.train.rng import rng_state, set_rng_state

_NAME = re.compile(r"^ckpt-s(\d+)-(\d+)$")
PREFIX = "model."  # the loss module holds the model as `.model`


def checkpoint_name(stage_index: int, step: int) -> str:
    """Directory name of a checkpoint."""
    return f"ckpt-s{stage_index:02d}-{step:07d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = run_dir / "checkpoints"
    found = [(tuple(int(g) for g in m.groups()), p) for p in root.glob("ckpt-*") if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(
    run_dir: Path, state: dict[str, Any], module: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
    info: DistInfo, fsdp: bool, keep_last: int,
) -> Path:
    """Write a checkpoint atomically (all ranks call this); returns its directory."""
    root = run_dir / "checkpoints"
    final = root / checkpoint_name(state["stage_index"], state["step"])
    tmp = root / f".tmp-{final.name}"
    if info.main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    barrier()
    weights = _trainable_state(module, fsdp)
    optim = _optimizer_state(module, optimizer, fsdp)
    if info.main:
        save_file(weights, str(tmp / "trainable.safetensors"))
        torch.save(optim, tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        (tmp / "state.json").write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    torch.save(rng_state(), tmp / f"rng-rank{info.rank}.pt")
    barrier()
    if info.main:
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        for old in list_checkpoints(run_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    barrier()
    return final


def read_state(path: Path) -> dict[str, Any]:
    """``state.json`` of a checkpoint."""
    try:
        return json.loads((path / "state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint state ({exc})") from None


def load_checkpoint(
    path: Path, module: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, info: DistInfo, fsdp: bool
) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and this rank's RNG; returns the saved state."""
    state = read_state(path)
    try:
        weights = load_file(str(path / "trainable.safetensors"))
        optim = torch.load(path / "optimizer.pt", weights_only=False)
        sched = torch.load(path / "scheduler.pt", weights_only=False)
    except (OSError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: incomplete checkpoint ({exc})") from None
    _load_trainable(module, weights, fsdp, str(path))
    if fsdp:
        set_optimizer_state_dict(module, optimizer, optim, options=StateDictOptions(full_state_dict=True))
    else:  # not strict: a parameter that never received a gradient (a layer past select_layer) has no state
        set_optimizer_state_dict(unwrap(module), optimizer, optim, options=StateDictOptions(strict=False))
    scheduler.load_state_dict(sched)
    rng_file = path / f"rng-rank{info.rank}.pt"
    if rng_file.is_file():  # a rank that did not exist when saving keeps its fresh seed
        set_rng_state(torch.load(rng_file, weights_only=False))
    return state


def _trainable_state(module: nn.Module, fsdp: bool) -> dict[str, torch.Tensor]:
    inner = unwrap(module)
    names = {n for n, p in inner.named_parameters() if p.requires_grad}
    if fsdp:
        full = get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        items = {k: v for k, v in full.items() if k in names}
    else:
        items = {n: p.detach() for n, p in inner.named_parameters() if n in names}
    return {k.removeprefix(PREFIX): v.to("cpu").contiguous() for k, v in items.items()}


def _optimizer_state(module: nn.Module, optimizer: torch.optim.Optimizer, fsdp: bool) -> dict[str, Any]:
    if fsdp:
        return get_optimizer_state_dict(
            module, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
    return get_optimizer_state_dict(unwrap(module), optimizer)


def _load_trainable(module: nn.Module, weights: dict[str, torch.Tensor], fsdp: bool, where: str) -> None:
    inner = unwrap(module)
    params = {n.removeprefix(PREFIX): p for n, p in inner.named_parameters() if p.requires_grad}
    missing = sorted(set(params) - set(weights))
    unexpected = sorted(set(weights) - set(params))
    if missing or unexpected:
        raise CheckpointError(
            f"{where}: trainable weights do not match this stage (missing: {missing[:3]}, unexpected: {unexpected[:3]})"
        )
    if fsdp:
        full = {PREFIX + k: v for k, v in weights.items()}
        set_model_state_dict(module, full, options=StateDictOptions(full_state_dict=True, strict=False))
        return
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor)
