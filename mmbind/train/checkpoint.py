"""checkpoint.py

Training checkpoints under ``RUN/checkpoints/ckpt-s<stage>-<step>/``: the trainable weights (safetensors,
names relative to the model), the optimizer (keyed by parameter name, so it restores on any world size,
FSDP included), the scheduler, every rank's RNG states and ``state.json`` (stage, step, data position,
counters). Written into a temporary directory that is renamed when complete, with ``files.json`` (every
file's size and SHA-256, see `manifest.py`) written last; the last N are kept. A write that fails (disk
full, permission denied) removes the temporary directory and raises one `StorageError`.

Resuming picks the newest checkpoint that verifies (`resume_checkpoint`): a damaged one (a file missing,
truncated or changed, or, without a manifest, not loadable) is set aside as ``.damaged-<name>`` with a
one-line warning and the previous one is used; when checkpoints exist but none is good the resume stops
with a `CheckpointError` (move ``checkpoints/`` away to restart the unfinished stage from its beginning).
Pickled files are read with ``weights_only=True`` (`safe_load.py`): a planted payload never runs.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

from mmbind.errors import CheckpointError, StorageError
from mmbind.train.distributed import DistInfo, barrier, gather_objects, unwrap
from mmbind.train.manifest import MANIFEST, manifest_problem, write_manifest
from mmbind.train.recipe_settings import reapply_recipe_settings, recipe_settings
from mmbind.train.rng import rng_state, set_rng_state
from mmbind.train.safe_load import safe_torch_load
from mmbind.train.storage import storage_error

_NAME = re.compile(r"^ckpt-s(\d+)-(\d+)$")
PREFIX = "model."  # the loss module holds the model as `.model`
REQUIRED = ("trainable.safetensors", "optimizer.pt", "scheduler.pt", "state.json", "rng-rank0.pt")
DAMAGED = ".damaged-"


def checkpoint_name(stage_index: int, step: int) -> str:
    """Directory name of a checkpoint."""
    return f"ckpt-s{stage_index:02d}-{step:07d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = run_dir / "checkpoints"
    found = [
        (tuple(int(g) for g in m.groups()), p) for p in root.glob("ckpt-*") if (m := _NAME.match(p.name))
    ]
    return [p for _, p in sorted(found)]


def save_checkpoint(
    run_dir: Path, state: dict[str, Any], module: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
    info: DistInfo, fsdp: bool, keep_last: int,
) -> Path:
    """Write a checkpoint atomically (all ranks call this); returns its directory."""
    root = run_dir / "checkpoints"
    final = root / checkpoint_name(state["stage_index"], state["step"])
    tmp = root / f".tmp-{final.name}"

    def start() -> None:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)

    _agree(_attempt(start) if info.main else None, tmp, info, run_dir, final)
    weights = _trainable_state(module, fsdp)
    optim = _optimizer_state(module, optimizer, fsdp)

    def write_main() -> None:
        save_file(weights, str(tmp / "trainable.safetensors"))
        torch.save(optim, tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        (tmp / "state.json").write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")

    problem = _attempt(write_main) if info.main else None
    problem = problem or _attempt(lambda: torch.save(rng_state(), tmp / f"rng-rank{info.rank}.pt"))
    _agree(problem, tmp, info, run_dir, final)

    def publish() -> None:
        write_manifest(tmp)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)

    _agree(_attempt(publish) if info.main else None, tmp, info, run_dir, final)
    if info.main:
        for old in list_checkpoints(run_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    barrier()
    return final


def _attempt(write: Callable[[], None]) -> BaseException | None:
    """Run a write; its failure (a file-system error, or a writer's own error type) is returned."""
    try:
        write()
    except (OSError, RuntimeError, SafetensorError) as exc:
        return exc
    return None


def _agree(problem: BaseException | None, tmp: Path, info: DistInfo, run_dir: Path, final: Path) -> None:
    """Every rank learns whether any rank failed to write; then all raise the same `StorageError`."""
    message = str(storage_error(problem, run_dir, f"checkpoint {final}")) if problem is not None else None
    messages = [m for m in gather_objects(message) if m]
    if messages:
        if info.main:
            shutil.rmtree(tmp, ignore_errors=True)
        raise StorageError(messages[0])


def read_state(path: Path) -> dict[str, Any]:
    """``state.json`` of a checkpoint."""
    try:
        return json.loads((path / "state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint state ({exc})") from None


def load_checkpoint(
    path: Path, module: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, info: DistInfo,
    fsdp: bool,
) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and this rank's RNG; returns the saved state. The optimizer's
    settings (learning rates, weight decay, betas, epsilon) stay the recipe's: a change accepted on resume
    (``--allow-recipe-change stages.NAME.lr``) applies to the remaining steps."""
    state = read_state(path)
    try:
        weights = load_file(str(path / "trainable.safetensors"))
    except (OSError, RuntimeError, SafetensorError) as exc:
        raise CheckpointError(f"{path}: incomplete checkpoint ({exc})") from None
    optim = safe_torch_load(path / "optimizer.pt")
    sched = safe_torch_load(path / "scheduler.pt")
    _load_trainable(module, weights, fsdp, str(path))
    settings = recipe_settings(optimizer)  # the recipe's, which a resume that accepted changes must keep
    if fsdp:
        set_optimizer_state_dict(module, optimizer, optim, options=StateDictOptions(full_state_dict=True))
    else:  # not strict: a parameter that never received a gradient (a layer past select_layer) has no state
        set_optimizer_state_dict(unwrap(module), optimizer, optim, options=StateDictOptions(strict=False))
    scheduler.load_state_dict(sched)
    reapply_recipe_settings(optimizer, scheduler, settings)
    rng_file = path / f"rng-rank{info.rank}.pt"
    if rng_file.is_file():  # a rank that did not exist when saving keeps its fresh seed
        set_rng_state(safe_torch_load(rng_file))
    return state


def checkpoint_problem(path: Path) -> str | None:
    """Why the checkpoint in ``path`` cannot be resumed from (None: it can). With a manifest every file's
    size and SHA-256 are checked; without one (older checkpoints) every file is loaded (safely)."""
    try:
        state = read_state(path)
        if not isinstance(state, dict) or not {"stage", "stage_index", "step"} <= set(state):
            return "state.json lacks stage / stage_index / step"
    except CheckpointError:
        return "state.json is missing or unreadable"
    if (path / MANIFEST).is_file():
        return manifest_problem(path, REQUIRED)
    for name in REQUIRED:
        if not (path / name).is_file():
            return f"{name} is missing"
    try:
        load_file(str(path / "trainable.safetensors"))
    except (OSError, RuntimeError, SafetensorError) as exc:
        return f"trainable.safetensors is unreadable ({str(exc)[:120]})"
    for file in [path / "optimizer.pt", path / "scheduler.pt", *sorted(path.glob("rng-rank*.pt"))]:
        try:
            safe_torch_load(file)
        except CheckpointError as exc:
            return f"{file.name}: {str(exc).split(': ', 1)[-1]}"
    return None


def resume_checkpoint(run_dir: Path, info: DistInfo, warn: Callable[[str], None]) -> Path | None:
    """The newest checkpoint of ``run_dir`` that verifies (None: the run has none). Damaged newer ones are
    renamed ``.damaged-<name>`` with a warning; ranks agree on rank 0's choice."""
    choice: tuple[str | None, list[tuple[str, str]]] | None = None
    if info.main:
        damaged: list[tuple[str, str]] = []
        good: str | None = None
        for path in reversed(list_checkpoints(run_dir)):
            problem = checkpoint_problem(path)
            if problem is None:
                good = str(path)
                break
            damaged.append((str(path), problem))
        choice = (good, damaged)
    good, damaged = gather_objects(choice)[0]
    if damaged and good is None:
        reasons = "; ".join(f"{Path(p).name}: {why}" for p, why in damaged)
        raise CheckpointError(
            f"{run_dir}: no usable checkpoint ({reasons}); move {run_dir / 'checkpoints'} away to restart "
            "the unfinished stage from its beginning"
        )
    if info.main:
        for path, why in damaged:
            aside = Path(path).with_name(DAMAGED + Path(path).name)
            shutil.rmtree(aside, ignore_errors=True)
            Path(path).rename(aside)
            warn(f"warning: checkpoint {path} is damaged ({why}); set aside as {aside.name}, resuming from "
                 f"{Path(good).name if good else 'the previous one'}")
    barrier()
    return Path(good) if good else None


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
            f"{where}: trainable weights do not match this stage "
            f"(missing: {missing[:3]}, unexpected: {unexpected[:3]})"
        )
    if fsdp:
        full = {PREFIX + k: v for k, v in weights.items()}
        set_model_state_dict(module, full, options=StateDictOptions(full_state_dict=True, strict=False))
        return
    with torch.no_grad():
        for name, tensor in weights.items():
            params[name].copy_(tensor)
