"""dpo_reference.py

``reference: precomputed`` of ``kind: dpo``: the starting model's answer log-probabilities of every pair,
scored once before the stage's first step and kept in ``RUN/reference/<stage>.safetensors`` (``chosen`` and
``rejected``, one row per pair of the stage's dataset; 0 for a bad pair, which never trains), so every
epoch and every resume reuses them instead of running a reference model. Scoring runs the prepared model in
eval mode (adapters bypassed under LoRA), under the stage's precision, on pairs as preprocessed in epoch 0;
the ranks share the pairs (each scores every world-th micro-batch, and FSDP ranks step together) and sum
their rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file

from mmbind.data.preferences import PreferenceCollator, PreferenceDataset
from mmbind.train.distributed import DistInfo, barrier, unwrap
from mmbind.train.setup import autocast_for

REFERENCE_DIR = "reference"


def reference_path(run_dir: Path, stage: str) -> Path:
    """Where a stage's precomputed reference is kept."""
    return run_dir / REFERENCE_DIR / f"{stage}.safetensors"


def load_or_score(
    path: Path, module: torch.nn.Module, dataset: PreferenceDataset, collator: PreferenceCollator,
    per_device: int, info: DistInfo, precision: str,
) -> torch.Tensor:
    """The ``(pairs, 2)`` table at ``path`` when it covers the dataset, else scored now and written there."""
    if path.is_file():
        saved = load_file(str(path))
        if len(saved["chosen"]) == len(dataset):
            return torch.stack([saved["chosen"], saved["rejected"]], dim=1)
    table = score(module, dataset, collator, per_device, info, precision)
    if info.main:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{path.name}")
        save_file({"chosen": table[:, 0].contiguous(), "rejected": table[:, 1].contiguous()}, str(tmp))
        os.replace(tmp, path)
    barrier()
    return table


@torch.no_grad()
def score(module: torch.nn.Module, dataset: PreferenceDataset, collator: PreferenceCollator, per_device: int,
          info: DistInfo, precision: str) -> torch.Tensor:
    """Every pair's (chosen, rejected) log-probabilities under the model as it is now; ``module``: the
    stage's wrapped `DpoForward` (called as a whole, so FSDP gathers its shards)."""
    model = unwrap(module).model
    modes = {m: m.training for m in model.modules()}
    model.eval()
    table = torch.zeros((len(dataset), 2), dtype=torch.float64, device=info.device)  # bad pairs: never read
    chunks = [list(range(i, min(i + per_device, len(dataset)))) for i in range(0, len(dataset), per_device)]
    rounds = -(-len(chunks) // info.world)
    dataset.set_epoch(0)
    try:
        with model.llm.lora_disabled():
            for r in range(rounds):
                slot = r * info.world + info.rank
                batch = collator([dataset[i] for i in chunks[slot]] if slot < len(chunks) else [])
                batch = batch.to(info.device)
                with autocast_for(precision, info.device):
                    logps = module(batch, score=True)  # every rank runs as many forwards (FSDP)
                if batch.size:
                    chosen, rejected = logps.double().chunk(2)
                    table[batch.indices] = torch.stack([chosen, rejected], dim=1)
    finally:
        for m, training in modes.items():
            m.train(training)
    if dist.is_initialized() and info.world > 1:
        dist.all_reduce(table)
    return table.cpu()
