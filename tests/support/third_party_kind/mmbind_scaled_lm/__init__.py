"""mmbind_scaled_lm

A third party's stage kind, ``kind: scaled_lm``: next-token training whose loss is multiplied by the
stage's ``options.scale`` and which logs that scale -- contributed through the ``mmbind_stage_kinds`` hook
exactly as mmbind's own kinds are, on `mmbind.train.model_stage.ModelObjective` (the trainer's model, data
and preparation) with a loss module of its own.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import mmbind


class ScaledOptions(BaseModel):
    """``options:`` of a scaled_lm stage."""

    model_config = ConfigDict(extra="forbid")
    scale: float = Field(1.0, gt=0, description="factor on the next-token loss")


def _build(ctx: Any) -> Any:
    from mmbind.train.forward import TrainForward
    from mmbind.train.model_stage import ModelObjective

    options = ctx.stage.kind_options(ctx.registry)

    class ScaledForward(TrainForward):
        def forward(self, batch):  # type: ignore[override]
            return super().forward(batch) * options.scale, {"scale": options.scale}

    class ScaledObjective(ModelObjective):
        kind = "scaled_lm"

        def loss_module(self, model):  # type: ignore[override]
            return ScaledForward(model, self.cache)

    return ScaledObjective(ctx)


def _settle(stage: Any, options: ScaledOptions) -> None:
    if stage.packing:
        raise ValueError("kind scaled_lm: no packing, please")


@mmbind.hookimpl
def mmbind_stage_kinds() -> list[mmbind.StageKindEntry]:
    return [mmbind.StageKindEntry("scaled_lm", _build, ScaledOptions, _settle,
                                  description="next-token loss times a scale")]
