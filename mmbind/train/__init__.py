"""mmbind.train

Training: recipe stages (which parts train, learning rates, batches, schedule), the step loop with
token-weighted gradient accumulation, checkpoints with exact resume, the frozen-feature cache, DDP / FSDP2
under torchrun, LoRA through peft, metrics and the progress display; the built-in stage kinds
(`builtin_kinds`: lm, dpo, align, mae). Entry point: `train`.

The public names are imported from their modules on first access (PEP 562), so that importing a module of
this package (the stage kinds' plugin module, when a recipe is loaded) imports no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmbind.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from mmbind.run_folder import read_run_recipe
    from mmbind.train.feature_cache import FeatureCache, encoder_identity
    from mmbind.train.forward import TrainForward
    from mmbind.train.loop import NonFiniteLossError, StepInfo
    from mmbind.train.run import train

_HOMES = {
    "read_run_recipe": "mmbind.run_folder",  # the run folder's recipe (also public here)
    "FeatureCache": "mmbind.train.feature_cache", "encoder_identity": "mmbind.train.feature_cache",
    "TrainForward": "mmbind.train.forward", "NonFiniteLossError": "mmbind.train.loop",
    "StepInfo": "mmbind.train.loop", "train": "mmbind.train.run",
}

__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOMES)

__all__ = ["FeatureCache", "NonFiniteLossError", "StepInfo", "TrainForward", "encoder_identity",
           "read_run_recipe", "train"]
