"""dpo.py

`DpoForward`: the loss module of ``kind: dpo`` (DDP / FSDP wrap it as they wrap `TrainForward`, whose
distribution and feature-cache handling it inherits). A micro-batch of N pairs (`PreferenceBatch`: N chosen
rows then N rejected rows, the media of each pair once) is encoded once -- the projected tokens of the N
pairs' media serve both answers -- and the 2N rows go through the LLM in one batch; the per-sequence
log-probabilities of the answers (media and prompt excluded, after splicing) and the reference's give the
loss (`dpo_loss.preference_loss`), returned as the SUM over the pairs with TRL's metrics.

The reference is the stage's starting model, one of:
- `FrozenCopy`: a frozen copy made when the stage starts (not a submodule: never trained, wrapped or saved;
  the outputs of the encoders the stage does not train are taken from the policy's forward);
- `AdaptersOff`: with LoRA, the model itself with its adapters bypassed (no copy; only the adapters train,
  so the media's projected tokens are the reference's too);
- `Precomputed`: log-probabilities scored once before the stage (`dpo_reference.py`), looked up by pair.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from mmbind.data.collate import Batch
from mmbind.data.preferences import PreferenceBatch
from mmbind.model.loss import supervised_positions
from mmbind.model.media_items import MediaItems, stack_items, unstack
from mmbind.model.multimodal_lm import CachedFeatures, MultimodalLM
from mmbind.recipe.stage_options import DpoOptions
from mmbind.train.dpo_loss import METRIC_NAMES, SequenceLogps, preference_loss, sequence_logps
from mmbind.train.feature_cache import FeatureCache
from mmbind.train.forward import TrainForward, media_inputs


def both_answers(projected: dict[str, MediaItems]) -> dict[str, MediaItems]:
    """The N pairs' projected items for the 2N rows: the same items again for the rejected rows."""
    return {m: (torch.cat([t, t]) if isinstance(t, torch.Tensor) else [*t, *t]) for m, t in projected.items()}


def pair_logps(model: MultimodalLM, batch: PreferenceBatch, projected: dict[str, MediaItems],
               anchor: torch.Tensor | None = None) -> SequenceLogps:
    """Answer log-probabilities of the 2N rows under ``model`` given the rows' projected media."""
    rows = batch.rows
    out = model(rows.input_ids, rows.attention_mask, rows.labels, projected=projected,
                logits_to_keep="supervised", loss_reduction="none", embeds_anchor=anchor)
    return sequence_logps(out.loss, out.labels, supervised_positions(out.labels))


Encoded = dict[str, CachedFeatures]  # frozen encoders' outputs of every item of a modality, this step's


class Reference(Protocol):
    """The reference model's answer log-probabilities ``(2N,)`` of a batch (chosen then rejected), given
    the rows' projected media and the frozen encoders' outputs of the policy's forward."""

    def logps(self, batch: PreferenceBatch, projected: dict[str, MediaItems], encoded: Encoded
              ) -> torch.Tensor:
        ...


class FrozenCopy:
    """A frozen copy of the starting model (eval mode, no gradients). Its encoders are the policy's where
    the stage does not train them, so it takes their outputs from the policy's forward (the encoders run
    once per pair) and runs its own projector and LLM."""

    def __init__(self, model: MultimodalLM) -> None:
        self.model = model.eval().requires_grad_(False)

    @torch.no_grad()
    def logps(self, batch: PreferenceBatch, projected: dict[str, MediaItems], encoded: Encoded
              ) -> torch.Tensor:
        media, features = media_inputs(batch.rows)
        media = {m: items for m, items in media.items() if m not in encoded}
        features = {**features, **encoded}
        own = both_answers(self.model.encode(media, features))
        return pair_logps(self.model, batch, own).logps


class AdaptersOff:
    """The trained model with its LoRA adapters bypassed."""

    def __init__(self, model: MultimodalLM) -> None:
        self.model = model

    @torch.no_grad()
    def logps(self, batch: PreferenceBatch, projected: dict[str, MediaItems], encoded: Encoded
              ) -> torch.Tensor:
        with self.model.llm.lora_disabled():
            return pair_logps(self.model, batch, {m: _detached(t) for m, t in projected.items()}).logps


class Precomputed:
    """Log-probabilities scored before the stage: ``table[index] = (chosen, rejected)``."""

    def __init__(self) -> None:
        self.table: torch.Tensor | None = None  # (pairs, 2) float64, set before the first step

    def logps(self, batch: PreferenceBatch, projected: dict[str, MediaItems], encoded: Encoded
              ) -> torch.Tensor:
        assert self.table is not None, "the precomputed reference is scored before the first step"
        rows = self.table.to(batch.indices.device)[batch.indices]
        return torch.cat([rows[:, 0], rows[:, 1]]).float()


class DpoForward(TrainForward):
    """Preference-loss-sum forward of a `MultimodalLM` (see the module's docstring)."""

    def __init__(self, model: MultimodalLM, cache: FeatureCache | None, options: DpoOptions,
                 reference: Reference) -> None:
        super().__init__(model, cache)
        self.options = options
        self.reference = reference  # a plain object: not a submodule

    def policy(self, batch: PreferenceBatch, anchor: torch.Tensor | None = None
               ) -> tuple[SequenceLogps, dict[str, MediaItems], Encoded]:
        """The model's answer log-probabilities of the 2N rows, the rows' projected media, and the frozen
        encoders' outputs of every item of the modalities they encoded (cache hits included)."""
        rows = batch.rows
        media, features = media_inputs(rows)
        store, fresh = self.store(rows), {}

        def keep(modality: str, tokens: torch.Tensor, slots: list[int]) -> torch.Tensor:
            tokens = store(modality, tokens, slots) if store is not None else tokens
            fresh.setdefault(modality, []).extend(zip(slots, tokens))
            return tokens

        projected = both_answers(self.model.encode(media, features, keep))
        return pair_logps(self.model, batch, projected, anchor), projected, _all_items(rows, fresh)

    def forward(self, batch: PreferenceBatch, score: bool = False  # type: ignore[override]
                ) -> tuple[torch.Tensor, dict[str, float]] | torch.Tensor:
        """``(loss sum, metrics)``; ``score``: the policy's answer log-probabilities ``(2N,)`` alone
        (scoring the precomputed reference)."""
        if batch.size == 0:  # this rank ran out of pairs: the 1-token forward of `TrainForward`
            empty = super().forward(batch.rows)
            return empty if score else (empty, dict.fromkeys(METRIC_NAMES, 0.0))
        if score:
            return self.policy(batch)[0].logps
        anchor = self._unused_terms(set(batch.rows.media))
        policy, projected, encoded = self.policy(batch, anchor if anchor.requires_grad else None)
        reference = self.reference.logps(batch, projected, encoded)
        result = preference_loss(policy, reference, self.options)
        chosen, rejected = policy.logps.chunk(2)
        return result.losses.sum(), result.metrics(chosen, rejected)


def _all_items(rows: Batch, fresh: dict[str, list[tuple[int, torch.Tensor]]]) -> Encoded:
    """Per modality whose pixel items were all encoded by a frozen encoder: every item's encoder output
    (the fresh ones and the cache hits) at its position, as `CachedFeatures`."""
    out = {}
    for modality, outputs in fresh.items():
        items = rows.media[modality]
        if items.pixel_slots is None or len(outputs) != len(items.pixel_slots):
            continue
        known: list[torch.Tensor | None] = [None] * items.count
        for slot, tokens in outputs:
            known[int(items.pixel_slots[slot])] = tokens
        if items.features is not None and items.feature_slots is not None:
            for slot, tokens in zip(items.feature_slots.tolist(), unstack(items.features)):
                known[slot] = tokens
        stacked = stack_items([t for t in known if t is not None])
        out[modality] = CachedFeatures(stacked, torch.arange(items.count, device=items.pixel_slots.device))
    return out


def _detached(items: MediaItems) -> MediaItems:
    return items.detach() if isinstance(items, torch.Tensor) else [t.detach() for t in items]


def frozen_copy(model: nn.Module) -> MultimodalLM:
    """A deep copy of ``model`` for the reference (the stage's starting weights, same dtypes and device)."""
    import copy

    return copy.deepcopy(model)
