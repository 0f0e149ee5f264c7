"""dpo_stage.py

``kind: dpo``: direct preference optimisation of the model (Rafailov et al. 2023, as TRL's ``DPOTrainer``)
as a `ModelObjective`: the stage's dataset holds preference pairs (`mmbind.data.preferences`), the loss
module is `DpoForward` and the loss is averaged over the pairs of the step. The reference is the stage's
starting model: a frozen copy (``reference: copy``), the model with its LoRA adapters bypassed (with
``lora``), or its log-probabilities scored once into the run folder (``reference: precomputed``,
`dpo_reference.py`). Everything else -- LoRA, freezing, gradient checkpointing, DDP / FSDP, exact resume,
bad pairs skipped and reported -- is the trainer's, as for ``lm``. Output: the model with LoRA merged.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from mmbind.data.build import build_stage_data
from mmbind.data.media_readers import MediaReader
from mmbind.data.preferences import PreferenceBatch
from mmbind.train.dpo import AdaptersOff, DpoForward, FrozenCopy, Precomputed, Reference, frozen_copy
from mmbind.train.dpo_reference import load_or_score, reference_path
from mmbind.train.model_stage import ModelObjective
from mmbind.train.objective import StageContext


class DpoObjective(ModelObjective):
    """Preference loss of the whole model (see `mmbind.train.objective.Objective`)."""

    kind = "dpo"
    shown_metrics = ("rewards/accuracies", "rewards/margins")  # next to the loss on the progress bar

    def __init__(self, ctx: StageContext) -> None:
        self.options = ctx.stage.kind_options(ctx.registry)
        self.reference: Reference | None = None
        super().__init__(ctx)

    def build_data(self, model: Any, readers: dict[str, MediaReader], identities: dict[str, str]) -> tuple:
        ctx = self.ctx
        return build_stage_data(ctx.data, ctx.name, ctx.stage, model, self.cache, identities, readers,
                                preferences=True)

    def loss_module(self, model: nn.Module) -> nn.Module:
        if self.options.reference == "precomputed":
            self.reference = Precomputed()
        elif self.ctx.stage.lora is not None:
            self.reference = AdaptersOff(model)  # type: ignore[arg-type]
        else:
            self.reference = FrozenCopy(frozen_copy(model))
        return DpoForward(model, self.cache, self.options, self.reference)  # type: ignore[arg-type]

    def after_prepare(self) -> None:
        if isinstance(self.reference, Precomputed):
            ctx, p = self.ctx, self.prepared
            path = reference_path(ctx.run_dir, ctx.name)
            self.reference.table = load_or_score(path, p.module, self.dataset, self.collator,  # type: ignore[arg-type]
                                                 self.per_device, ctx.info, p.precision)

    def count(self, batch: PreferenceBatch) -> int:  # type: ignore[override]
        return batch.size

    def tokens(self, batch: PreferenceBatch) -> tuple[int, int]:  # type: ignore[override]
        rows = batch.rows
        real = sum(rows.lengths)
        return real, rows.size * max(rows.lengths, default=0)

