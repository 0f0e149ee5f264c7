"""model_stage.py

`ModelObjective`: what every stage kind that trains the whole model shares as an `Objective` (``lm``,
``dpo``, a third party's): the model built from the recipe and started from the previous stage's output
(or ``init_from``), the stage's seed, the media readers and the feature cache of frozen encoders, the
stage's data through the one data stack of `mmbind.data` (sample order, collation, per-item seeds), and the
one preparation of `mmbind.train.setup.prepare_model` (LoRA, freezing, precision, gradient checkpointing,
DDP / FSDP wrapping, optimizer and scheduler). A kind overrides what differs: its data (`build_data`), its
loss module (`loss_module`: a batch on the device to its loss sum, or ``(loss sum, metrics)``), what the
loss is averaged over (`count`), and what happens once the model is ready (`after_prepare`). Output: the
model with LoRA merged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from mmbind.data.build import build_stage_data, run_readers
from mmbind.data.collate import Batch
from mmbind.data.media_readers import MediaReader
from mmbind.errors import RecipeError
from mmbind.model.build import build_model
from mmbind.model.persist import load_weights_from
from mmbind.train.export import save_stage_output
from mmbind.train.feature_cache import FeatureCache, encoder_identity
from mmbind.train.forward import TrainForward
from mmbind.train.lora import merge_lora
from mmbind.train.objective import StageContext, total_steps
from mmbind.train.rng import seed_all
from mmbind.train.setup import accumulation_steps, prepare_model, resolve_precision


class ModelObjective:
    """A stage that trains the model (see `mmbind.train.objective.Objective`); by default next-token
    training on the stage's conversations (``kind: lm``)."""

    kind = ""
    min_count = 1

    def __init__(self, ctx: StageContext) -> None:
        stage, data, info = ctx.stage, ctx.data, ctx.info
        if stage.lora is not None and stage.strategy.startswith("fsdp"):
            raise RecipeError(f"{ctx.where}: LoRA with strategy fsdp is not supported; use ddp")
        self.ctx = ctx
        self.model = model = build_model(ctx.recipe, ctx.registry)
        if ctx.init is not None:
            load_weights_from(model, ctx.init)
        seed_all(stage.seed)
        self.cache: FeatureCache | None = None
        identities: dict[str, str] = {}
        readers = run_readers(data, list(model.encoders))
        if data.feature_cache.enabled:
            self.cache = FeatureCache(data.feature_cache.dir)
            precision = resolve_precision(stage.precision, info.device)
            for modality in model.encoders:
                if "encoders" not in stage.train and f"encoder:{modality}" not in stage.train:
                    identities[modality] = encoder_identity(model, modality, readers[modality].identity,
                                                             precision)
        self.dataset, self.order, self.collator = self.build_data(model, readers, identities)
        self.accum = accumulation_steps(stage, info.world, ctx.where)
        self.per_device = stage.per_device_batch
        self.workers = data.num_workers
        self.total_steps = total_steps(stage, self.order.steps_per_epoch)
        self.prepared = prepare_model(model, stage, info, self.total_steps, self.cache, self.loss_module)
        self.after_prepare()

    # ------------------------------------------------------------ what a kind overrides
    def build_data(self, model: Any, readers: dict[str, MediaReader], identities: dict[str, str]) -> tuple:
        """(dataset, sample order, collator) of the stage: its conversations by default."""
        ctx = self.ctx
        return build_stage_data(ctx.data, ctx.name, ctx.stage, model, self.cache, identities, readers)

    def loss_module(self, model: nn.Module) -> nn.Module:
        """The module DDP / FSDP wrap: a batch to its loss sum (holds the model as ``.model``)."""
        return TrainForward(model, self.cache)

    def after_prepare(self) -> None:
        """Called once the model is prepared (placed, wrapped), before the first step."""

    def count(self, batch: Batch) -> int:
        return batch.supervised_tokens

    def tokens(self, batch: Batch) -> tuple[int, int]:
        real = sum(batch.lengths)
        return real, real if batch.packed else batch.size * max(batch.lengths, default=0)

    # ------------------------------------------------------------------- shared
    def after_step(self) -> None:
        """Nothing to do."""

    def finish(self) -> dict[str, Any]:
        if self.cache is None or not self.ctx.info.main:
            return {}
        cache = self.cache
        return {"feature_cache": {"dir": str(cache.directory), "entries": cache.entries(),
                                  "bytes": cache.size_bytes()}}

    def save(self, directory: Path) -> Path:
        merge_lora(self.model)
        return save_stage_output(self.model, self.prepared.module, directory, self.ctx.info,
                                 self.prepared.fsdp)
