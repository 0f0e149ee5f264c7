"""objective.py

What one stage is given (`StageContext`) and what its kind provides to the one `StageRunner` (`Objective`,
built by the stage kind's plugin, `mmbind.registry.StageKindEntry`): ``lm`` (`mmbind.train.lm`), ``dpo``
(`mmbind.train.dpo_stage`), ``align`` (`mmbind.train.align`) and ``mae`` (`mmbind.train.mae`) are objectives;
the runner does everything else (accumulation, count-weighted loss over ranks, clipping, optimizer and
scheduler, metrics, progress, checkpoints and exact resume, NaN stop, Ctrl-C, bad samples).

A step's loss is ``sum over its micro-batches and ranks of loss sums / sum of their counts``: the count is
what the objective averages over (supervised tokens, preference pairs, caption pairs, masked patches), so
one rank with A micro-batches equals A ranks with one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from torch.utils.data import Dataset

from mmbind.recipe.schema import Recipe
from mmbind.recipe.training_schema import DataSpec, StageSpec
from mmbind.registry import Registry
from mmbind.train.distributed import DistInfo
from mmbind.train.metrics import MetricsLog
from mmbind.train.progress import ProgressDisplay
from mmbind.train.setup import Prepared


@dataclass
class StepInfo:
    """What callbacks receive after each optimizer step."""

    stage: str  # stage name
    stage_index: int  # position of the stage in the recipe
    step: int  # optimizer steps done in this stage
    total_steps: int  # steps of the stage
    loss: float  # count-weighted mean loss of the step
    checkpoint: Path | None = None  # checkpoint written after this step, if any


Callback = Callable[[StepInfo], None]


@dataclass
class StageContext:
    """Everything about one stage that does not depend on its kind."""

    recipe: Recipe  # the whole recipe (the model is built from it)
    name: str  # stage name
    index: int  # position in the recipe
    stage: StageSpec  # its settings
    run_dir: Path  # the run directory
    info: DistInfo  # rank, world, device
    init: Path | None  # weights to start from: the previous stage's output, or init_from
    display: ProgressDisplay  # progress bar
    metrics: MetricsLog  # metrics.jsonl
    callbacks: list[Callback] = field(default_factory=list)  # called after every step
    registry: Registry | None = None  # plugins

    @property
    def data(self) -> DataSpec:
        """The recipe's data section."""
        assert self.recipe.data is not None
        return self.recipe.data

    @property
    def where(self) -> str:
        """The stage's place in the recipe, for error messages."""
        return f"stages.{self.name}"


class SampleOrder(Protocol):
    """The global sample order: identical on every rank, whatever the world size."""

    @property
    def steps_per_epoch(self) -> int: ...

    def order(self, epoch: int) -> list[int]:
        """Dataset indices of ``epoch``; optimizer step ``s`` consumes ``[s*G:(s+1)*G]``."""
        ...


class Objective(Protocol):
    """What a stage kind provides to the `StageRunner`.

    ``prepared.module`` (wrapped for DDP / FSDP) maps a batch on the device to its loss sum, or to
    ``(loss_sum, metrics)``: the SUM of the objective's per-unit losses and floats to log (averaged over
    micro-batches and ranks). A batch has ``ids``, ``bad`` and ``to(device)``.
    """

    kind: str  # the stage kind's name (lm, dpo, align, mae, a third party's)
    prepared: Prepared  # the wrapped loss module, optimizer, scheduler, parameters, precision
    dataset: Dataset  # samples; ``set_epoch(epoch)`` reseeds preprocessing
    order: SampleOrder  # which samples each step takes
    collator: Callable[[list[Any]], Any]  # samples to a batch (bad samples dropped, kept in ``batch.bad``)
    accum: int  # micro-batches per optimizer step and rank
    per_device: int  # samples per micro-batch
    workers: int  # DataLoader worker processes
    min_count: int  # a step whose total count is below this does not update the weights (align: 2 pairs)
    total_steps: int  # optimizer steps of the stage

    def count(self, batch: Any) -> int:
        """What ``batch``'s loss sum is divided by (summed over the step's micro-batches and ranks)."""
        ...

    def tokens(self, batch: Any) -> tuple[int, int]:
        """(real, computed) tokens of ``batch``: throughput and padding metrics."""
        ...

    def after_step(self) -> None:
        """Called after every optimizer step (align clamps its logit scale)."""
        ...

    def finish(self) -> dict[str, Any]:
        """Called once after the last step: extra summary fields (retrieval accuracy, feature cache)."""
        ...

    def save(self, directory: Path) -> Path:
        """Write the stage's output (the model and the kind's extra files, atomically); all ranks call it."""
        ...


def total_steps(stage: StageSpec, steps_per_epoch: int) -> int:
    """Optimizer steps of a stage: ``max_steps``, or ``epochs`` over the data (at least one)."""
    return stage.max_steps or max(1, math.ceil(stage.epochs * steps_per_epoch))
