"""pair_stage.py

`PairObjective`: what the encoder pre-training kinds (``align``, ``mae``) share as `Objective`s: the model
built from the recipe and started from the previous stage's output (or ``init_from``), the stage's seed, the
media-caption pairs of its dataset (`mmbind.data.captions`, ordered and collated by the data stack of
`mmbind.data` as conversations and preference pairs are), AdamW over the loss module's trainable parameters
(weight decay on matrices only), DDP across ranks, and saving the whole model as ``RUN/stages/<name>/`` with
the kind's extra outputs written inside, atomically with it. A subclass builds its loss module (`build`).

Limits (documented): one micro-batch per step and rank, ``global_batch / ranks`` pairs each (contrastive
negatives span the global batch: no gradient accumulation); the last partial batch of an epoch is dropped;
file ``weight``s other than 0 are not applied (each pair once per epoch). With ``strategy: fsdp`` /
``fsdp_zero2`` the loss module is sharded as one FSDP2 unit; when the stage ends, every rank gathers the
trained weights into a fresh, unsharded copy of the model and loss module, which the kind's evaluation, its
extra files and the stage's output read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from mmbind.data.build import item_frames, pad_id, run_readers
from mmbind.data.captions import MediaCaptions, stage_sources
from mmbind.data.collate import PairBatch, PairCollator
from mmbind.data.sampler import EpochOrder
from mmbind.data.usable import require_usable
from mmbind.errors import RecipeError
from mmbind.interfaces import Encoder
from mmbind.model.build import build_model
from mmbind.model.multimodal_lm import MultimodalLM
from mmbind.model.persist import load_weights_from
from mmbind.train.export import save_stage_output
from mmbind.train.objective import StageContext, total_steps
from mmbind.train.optim import decay_groups
from mmbind.train.rng import seed_all
from mmbind.train.setup import prepare_training, resolve_precision


class _EveryParameter(nn.Module):
    """The loss module plus 0 x its trainable parameters: DDP needs every parameter in every rank's backward
    (an encoder's layers past ``select_layer`` are not used)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model  # the name checkpoints strip, so names match a 1-rank run

    def forward(self, batch: PairBatch) -> tuple[torch.Tensor, dict[str, float]]:
        loss, metrics = self.model(batch)
        params = [p.sum() for p in self.model.parameters() if p.requires_grad]
        return loss + 0.0 * torch.stack(params).sum().to(loss.dtype), metrics


class PairObjective:
    """An encoder pre-training objective on media-caption pairs (see `mmbind.train.objective.Objective`)."""

    kind = ""
    min_count = 1
    accum = 1

    def __init__(self, ctx: StageContext) -> None:
        stage, data, info, where = ctx.stage, ctx.data, ctx.info, ctx.where
        self.ctx = ctx
        self.model = model = build_model(ctx.recipe, ctx.registry)
        if ctx.init is not None:
            load_weights_from(model, ctx.init)
        seed_all(stage.seed)
        self.options = options = stage.kind_options()
        self.loss_module, self.encoder, tokenizer, max_text = self.build(model)
        precision = resolve_precision(stage.precision, info.device)
        if precision == "bf16":
            raise RecipeError(f"{where}.precision: kind {stage.kind} trains in fp32 or bf16_mixed, not bf16")
        if stage.global_batch % info.world:
            raise RecipeError(f"{where}.global_batch: {stage.global_batch} pairs do not split over "
                              f"{info.world} ranks (kind {stage.kind}: one forward pass of global_batch / "
                              "ranks per step)")
        self.loss_module.float().to(info.device).train()
        reader = run_readers(data, [options.modality])[options.modality]
        self.frames = item_frames(self.encoder, reader)
        if self.frames is not None and reader.frames_vary:
            raise RecipeError(f"{where}: kind {stage.kind} encodes {options.modality} items in fixed-size "
                              f"batches, but data.media.{options.modality} samples by rate (frame counts "
                              "vary by item); give it a fixed count (frames) for this run")
        sources = stage_sources(data, ctx.name, stage.dataset, options.modality)
        self.dataset = MediaCaptions(sources, options.modality, self.encoder.media_transform(), reader,
                                     tokenizer, max_text, stage.seed, options.cache_media)
        self.order = EpochOrder([len(self.dataset)], [1.0], stage.global_batch, stage.seed, drop_last=True)
        if self.order.steps_per_epoch == 0:
            raise RecipeError(f"{where}: {len(self.dataset)} {options.modality} item(s) in dataset "
                              f"{stage.dataset or ctx.name!r}, fewer than global_batch {stage.global_batch}")
        require_usable(self.dataset, f"stage {ctx.name}: dataset {stage.dataset or ctx.name!r}")
        self.collator = PairCollator(pad_id(tokenizer) if tokenizer is not None else 0)
        self.per_device = stage.global_batch // info.world
        # a memory cache is not shared by workers
        self.workers = 0 if options.cache_media else data.num_workers
        self.total_steps = total_steps(stage, self.order.steps_per_epoch)
        self._wrapped = info.world > 1  # _EveryParameter: names gain the prefix "model."

        def trainable(module: nn.Module) -> tuple[list[dict[str, Any]], list[nn.Parameter]]:
            # after wrapping: FSDP2 replaces the parameters by sharded ones, which the optimizer must hold
            params = [p for p in module.parameters() if p.requires_grad]
            return decay_groups(params, stage.lr, stage.weight_decay), params

        loss_module = _EveryParameter(self.loss_module) if self._wrapped else self.loss_module
        self.prepared = prepare_training(loss_module, stage, info, self.total_steps, precision, trainable)

    def build(self, model: MultimodalLM) -> tuple[nn.Module, Encoder, Any, int]:
        """(loss module, the encoder trained, caption tokenizer or None, caption length)."""
        raise NotImplementedError

    def count(self, batch: PairBatch) -> int:
        return len(batch.ids)

    def tokens(self, batch: PairBatch) -> tuple[int, int]:
        real = int(batch.text_mask.sum()) + len(batch.ids) * self.encoder.tokens_per_item(self.frames)
        return real, real

    def after_step(self) -> None:
        """Nothing to do."""

    def finish(self) -> dict[str, Any]:
        """The kind's end-of-stage results (`evaluate`), on unsharded weights."""
        if self.prepared.fsdp:
            self._unshard()
        return self.evaluate()

    def evaluate(self) -> dict[str, Any]:
        """Results of the trained encoder for the run summary (none by default)."""
        return {}

    def _unshard(self) -> None:
        """Replace the FSDP-sharded model and loss module by fresh full copies holding the trained weights
        (a collective: every rank gathers them)."""
        full = get_model_state_dict(self.prepared.module, options=StateDictOptions(full_state_dict=True))
        state = {k.removeprefix("model.") if self._wrapped else k: v for k, v in full.items()}
        self.model = model = build_model(self.ctx.recipe, self.ctx.registry)
        if self.ctx.init is not None:
            load_weights_from(model, self.ctx.init)
        self.loss_module, self.encoder, _, _ = self.build(model)
        self.loss_module.load_state_dict(state)
        self.loss_module.float().to(self.ctx.info.device)
        self.prepared.fsdp = False

    def save_extra(self, directory: Path) -> None:
        """Write the kind's files next to the model."""

    def save(self, directory: Path) -> Path:
        self.loss_module.to("cpu")
        return save_stage_output(self.model, self.model, directory, self.ctx.info, False, self.save_extra)
