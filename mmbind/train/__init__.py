"""mmbind.train

Training: recipe stages (which parts train, learning rates, batches, schedule), the step loop with
token-weighted gradient accumulation, checkpoints with exact resume, the frozen-feature cache, DDP / FSDP2
under torchrun, LoRA through peft, metrics and the progress display. Entry point: `train`.
"""

from mmbind.run_folder import read_run_recipe  # the run folder's recipe (also public here)
from mmbind.train.feature_cache import FeatureCache, encoder_identity
from mmbind.train.forward import TrainForward
from mmbind.train.loop import NonFiniteLossError, StepInfo
from mmbind.train.run import train

__all__ = ["FeatureCache", "NonFiniteLossError", "StepInfo", "TrainForward", "encoder_identity",
           "read_run_recipe", "train"]
