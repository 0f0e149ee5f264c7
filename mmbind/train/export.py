"""export.py

A stage's output model: ``RUN/stages/<name>/``, a complete mmbind model (config, safetensors weights with
LoRA merged, part artifacts) that `mmbind.load_pretrained` reads and the next stage starts from. Written
atomically (temporary directory, then rename; removed when a write fails). Under FSDP the full state is
gathered to rank 0 first.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from mmbind.model.persist import save_model
from mmbind.train.distributed import DistInfo, barrier


def save_stage_output(
    model: Any, module: nn.Module, directory: Path, info: DistInfo, fsdp: bool,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write the full model into ``directory`` (all ranks call this); ``extra(tmp)`` adds files before the
    directory appears (e.g. an align stage's text encoder)."""
    if fsdp:
        full = get_model_state_dict(module, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        state = {k.removeprefix("model."): v for k, v in full.items()}
    else:
        state = model.state_dict()
    if info.main:
        tmp = directory.parent / f".tmp-{directory.name}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            save_model(tmp, model.config, model.encoders, model.llm, state)
            if extra is not None:
                extra(tmp)
            shutil.rmtree(directory, ignore_errors=True)
            tmp.rename(directory)
        except BaseException:  # a full disk: no half-written output that a resume would take as finished
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    barrier()
    return directory

