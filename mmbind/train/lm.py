"""lm.py

``kind: lm``: next-token training of the projector / LLM (Video-LLaVA's stages): a `ModelObjective` on the
stage's conversations with `TrainForward` as its loss module. The loss of a micro-batch is the sum over its
supervised tokens; the runner divides by their global count. Output: the model with LoRA merged.
"""

from __future__ import annotations

from mmbind.train.model_stage import ModelObjective


class LmObjective(ModelObjective):
    """Next-token loss of the whole model (see `mmbind.train.objective.Objective`)."""

    kind = "lm"
