"""dpo_loss.py

The preference loss of ``kind: dpo`` on per-sequence log-probabilities, as TRL's ``DPOTrainer`` computes it
(trl 1.x, ``_compute_loss``; the tests check it against TRL itself):

- ``sigmoid`` (the DPO paper): ``-log sigmoid(beta * delta)`` with ``delta = (chosen - ref_chosen) -
  (rejected - ref_rejected)``; with ``label_smoothing`` eps, TRL's ``robust`` loss (robust DPO: eps is the
  probability that a label is flipped): ``(-(1 - eps) log sigmoid(beta delta) + eps log sigmoid(-beta delta))
  / (1 - 2 eps)``;
- ``ipo``: ``(delta' - 1 / (2 beta))^2`` with each log-ratio divided by its answer's token count;
- ``nll_weight`` w (RPO, TRL's ``sft`` loss weighted w): plus w x the chosen answer's mean token NLL. TRL
  averages that NLL over all chosen tokens of its batch; here it is each pair's own mean (the loss must be a
  sum over pairs so that micro-batches and ranks add up), the same when a batch's chosen answers are equally
  long.

Rewards are ``beta x`` the log-ratios (detached); the metrics are TRL's names.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mmbind.model.splice import IGNORE_INDEX
from mmbind.recipe.stage_options import DpoOptions


@dataclass
class SequenceLogps:
    """Per-sequence sums of the answer tokens' log-probabilities, and the answer token counts."""

    logps: torch.Tensor  # (R,) float32
    tokens: torch.Tensor  # (R,) supervised tokens of each row


def sequence_logps(token_nll: torch.Tensor, labels: torch.Tensor, positions: torch.Tensor | None = None
                   ) -> SequenceLogps:
    """Each row's sum of ``log softmax(logits at t)[labels at t + 1]`` over its supervised positions, from
    the per-position next-token losses (`mmbind.model.loss.next_token_loss` with ``reduction="none"``, fp32;
    over ``positions`` when the logits were kept there only)."""
    target = labels[:, 1:] if positions is None else labels[:, 1:][:, positions]
    return SequenceLogps(-token_nll.sum(dim=1), (target != IGNORE_INDEX).sum(dim=1))


@dataclass
class PreferenceLoss:
    """Per-pair losses and rewards of a micro-batch."""

    losses: torch.Tensor  # (N,)
    chosen_rewards: torch.Tensor  # (N,) beta x (chosen - ref_chosen), detached
    rejected_rewards: torch.Tensor  # (N,)

    def metrics(self, chosen: torch.Tensor, rejected: torch.Tensor) -> dict[str, float]:
        """TRL's metrics of the micro-batch (means over its pairs)."""
        c, r = self.chosen_rewards, self.rejected_rewards
        return {"rewards/chosen": float(c.mean()), "rewards/rejected": float(r.mean()),
                "rewards/accuracies": float((c > r).float().mean()), "rewards/margins": float((c - r).mean()),
                "logps/chosen": float(chosen.detach().mean()),
                "logps/rejected": float(rejected.detach().mean())}


def preference_loss(
    policy: SequenceLogps, reference: torch.Tensor, options: DpoOptions,
) -> PreferenceLoss:
    """The loss of N pairs from the policy's log-probabilities of the 2N rows (chosen then rejected) and
    the reference's ``(2N,)``."""
    chosen, rejected = policy.logps.chunk(2)
    ref_chosen, ref_rejected = reference.to(policy.logps.dtype).chunk(2)
    chosen_tokens, rejected_tokens = policy.tokens.chunk(2)
    chosen_ratio, rejected_ratio = chosen - ref_chosen, rejected - ref_rejected
    beta = options.beta
    if options.loss == "ipo":
        delta = chosen_ratio / chosen_tokens.clamp(min=1) - rejected_ratio / rejected_tokens.clamp(min=1)
        losses = (delta - 1 / (2 * beta)) ** 2
    elif options.label_smoothing:
        eps = options.label_smoothing
        delta = chosen_ratio - rejected_ratio
        losses = (-(1 - eps) * F.logsigmoid(beta * delta) + eps * F.logsigmoid(-beta * delta)) / (1 - 2 * eps)
    else:
        losses = -F.logsigmoid(beta * (chosen_ratio - rejected_ratio))
    if options.nll_weight:
        losses = losses + options.nll_weight * (-chosen / chosen_tokens.clamp(min=1))
    return PreferenceLoss(losses, beta * chosen_ratio.detach(), beta * rejected_ratio.detach())


METRIC_NAMES = ("rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen",
                "logps/rejected")
