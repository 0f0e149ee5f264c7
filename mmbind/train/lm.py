"""lm.py

``kind: lm``: next-token training of the projector / LLM (Video-LLaVA's stages) as an `Objective`: the model
built from the recipe and started from the previous stage's output, the conversation data of the stage
(`mmbind.data.build`), the feature cache of frozen encoders, LoRA, and `TrainForward` wrapped for DDP / FSDP.
The loss of a micro-batch is the sum over its supervised tokens; the runner divides by their global count.
Output: the model with LoRA merged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmbind.data.build import build_stage_data, run_readers
from mmbind.data.collate import Batch
from mmbind.errors import RecipeError
from mmbind.model.build import build_model
from mmbind.model.persist import load_weights_from
from mmbind.train.export import save_stage_output
from mmbind.train.feature_cache import FeatureCache, encoder_identity
from mmbind.train.lora import merge_lora
from mmbind.train.objective import StageContext, total_steps
from mmbind.train.rng import seed_all
from mmbind.train.setup import accumulation_steps, prepare_model, resolve_precision


class LmObjective:
    """Next-token loss of the whole model (see `mmbind.train.objective.Objective`)."""

    kind = "lm"
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
        self.cache, identities = None, {}
        readers = run_readers(data, list(model.encoders))
        if data.feature_cache.enabled:
            self.cache = FeatureCache(data.feature_cache.dir)
            precision = resolve_precision(stage.precision, info.device)
            for modality in model.encoders:
                if "encoders" not in stage.train and f"encoder:{modality}" not in stage.train:
                    identities[modality] = encoder_identity(model, modality, readers[modality].identity,
                                                             precision)
        self.dataset, self.order, self.collator = build_stage_data(data, ctx.name, stage, model, self.cache,
                                                                   identities, readers)
        self.accum = accumulation_steps(stage, info.world, ctx.where)
        self.per_device = stage.per_device_batch
        self.workers = data.num_workers
        self.total_steps = total_steps(stage, self.order.steps_per_epoch)
        self.prepared = prepare_model(model, stage, info, self.total_steps, self.cache)

    def count(self, batch: Batch) -> int:
        return batch.supervised_tokens

    def tokens(self, batch: Batch) -> tuple[int, int]:
        real = sum(batch.lengths)
        return real, real if batch.packed else batch.size * max(batch.lengths, default=0)

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
