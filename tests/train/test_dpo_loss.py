"""``kind: dpo`` against the reference: the per-sequence log-probabilities are a direct log-softmax over the
model's logits (answer tokens only, after splicing, each pair's media encoded once), and the loss, rewards
and gradients are TRL's (``trl.DPOTrainer._compute_loss``, called on the same log-probabilities)."""

from __future__ import annotations

import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

import mmbind
from mmbind.data.build import build_stage_data
from mmbind.data.preferences import PreferenceExample
from mmbind.recipe.stage_options import DpoOptions
from mmbind.train.dpo import DpoForward, Precomputed
from mmbind.train.dpo_loss import SequenceLogps, preference_loss
from tests.support.preferences import dpo_recipe, make_preferences
from tests.support.train import make_data

trl = pytest.importorskip("trl")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    data = make_data(tmp_path_factory.mktemp("data"), images=2, videos=2, text_only=2)
    recipe = dpo_recipe(data, make_preferences(data), "data.feature_cache.enabled=false")
    torch.manual_seed(0)
    model = mmbind.build_model(recipe).eval()
    stage = recipe.stages["finetune"]
    dataset, _, collator = build_stage_data(recipe.data, "finetune", stage, model, preferences=True)
    return model, dataset, collator


def _direct_logps(model, example, media) -> tuple[float, int]:
    """The answer's log-probability of one example, from the full logits of an ordinary forward."""
    ids, labels = example.input_ids[None], example.labels[None]
    out = model(ids, torch.ones_like(ids), labels, media=media)
    logprobs = out.logits.float().log_softmax(-1)[0, :-1]
    target = out.labels[0, 1:]
    keep = target != -100
    return float(logprobs[keep].gather(1, target[keep][:, None]).sum()), int(keep.sum())


@torch.no_grad()
def test_sequence_logps_are_a_direct_log_softmax_of_the_answer_tokens(setup):
    model, dataset, collator = setup
    pairs = [dataset[i] for i in range(len(dataset))]
    assert all(isinstance(p, PreferenceExample) for p in pairs)
    batch = collator(pairs)
    module = DpoForward(model, None, DpoOptions(), Precomputed())
    calls: list[int] = []
    hooks = [e.register_forward_hook(lambda _m, args, _o: calls.append(len(args[0])))
             for e in model.encoders.values()]
    policy, _, _ = module.policy(batch)
    for hook in hooks:
        hook.remove()
    media_pairs = sum(1 for p in pairs if p.chosen.media)
    assert sum(calls) == media_pairs  # each pair's media encoded once, for both of its answers
    n = len(pairs)
    for row, pair in enumerate(pairs):
        media = {}
        for item in pair.chosen.media:
            media.setdefault(item.modality, []).append(item.pixels)
        media = {m: torch.stack(v) for m, v in media.items()}
        for logps, tokens, example in ((policy.logps[row], policy.tokens[row], pair.chosen),
                                       (policy.logps[n + row], policy.tokens[n + row], pair.rejected)):
            want, count = _direct_logps(model, example, media)
            assert logps.item() == pytest.approx(want, abs=1e-4)
            assert int(tokens) == count == int((example.labels != -100).sum())
        # the answers alone are supervised: the prompts (and their media placeholders) are identical
        chosen, rejected = pair.chosen, pair.rejected
        start = int((chosen.labels != -100).nonzero()[0])
        assert torch.equal(chosen.input_ids[:start], rejected.input_ids[:start])
        assert int((rejected.labels != -100).nonzero()[0]) == start


def _trl_loss(options: DpoOptions, per_token: torch.Tensor, completion: torch.Tensor, ref: torch.Tensor
              ) -> tuple[torch.Tensor, dict]:
    """TRL's DPO loss on per-token log-probabilities (zero off the completion), with precomputed reference
    log-probabilities: ``DPOTrainer._compute_loss`` on a minimal trainer object."""
    from trl import DPOTrainer

    trainer = DPOTrainer.__new__(DPOTrainer)
    losses, weights = ["sigmoid"], [1.0]
    if options.label_smoothing:
        losses = ["robust"]
    if options.loss == "ipo":
        losses = ["ipo"]
    if options.nll_weight:
        losses, weights = [*losses, "sft"], [1.0, options.nll_weight]
    state = dict(
        beta=options.beta, label_smoothing=options.label_smoothing, loss_types=losses, loss_weights=weights,
        f_divergence_type="reverse_kl", ld_alpha=None, use_weighting=False, aux_loss_enabled=False,
        precompute_ref_logps=True, _metrics={"train": defaultdict(list)}, _total_train_tokens=0, _tp_size=1,
        model=SimpleNamespace(training=True),
        accelerator=SimpleNamespace(device=torch.device("cpu"), gather_for_metrics=lambda x: x,
                                    gather=lambda x: x),
    )
    trainer.__dict__.update(state)
    zeros = torch.zeros_like(per_token)
    outputs = SimpleNamespace(log_probs=per_token, entropy=zeros, mean_logits=zeros,
                              is_top1=torch.zeros_like(per_token, dtype=torch.bool))
    chosen_ref, rejected_ref = ref.chunk(2)
    inputs = {"input_ids": torch.zeros_like(completion), "attention_mask": torch.ones_like(completion),
              "completion_mask": completion, "ref_chosen_logps": chosen_ref,
              "ref_rejected_logps": rejected_ref}
    loss = trainer._compute_loss(lambda **_: outputs, inputs, return_outputs=False)
    return loss, {k: v[-1] for k, v in trainer._metrics["train"].items()}


@pytest.mark.parametrize("options", [
    DpoOptions(beta=0.1), DpoOptions(beta=0.5, label_smoothing=0.2), DpoOptions(beta=0.3, loss="ipo"),
    DpoOptions(beta=0.1, nll_weight=0.7),
])
def test_loss_rewards_and_gradients_are_trls(options):
    torch.manual_seed(1)
    pairs, width = 4, 9
    lengths = torch.tensor([5, 3, 7, 2, 6, 4, 8, 3])  # chosen then rejected answer tokens
    if options.nll_weight:
        lengths[:pairs] = 5  # TRL's NLL term averages over the batch's chosen tokens; equal lengths: the same
    completion = (torch.arange(width + 1)[None, :] >= (width + 1 - lengths)[:, None]).long()
    shifted = completion[:, 1:].float()
    per_token = (-torch.rand(2 * pairs, width) * 3 * shifted).requires_grad_()
    ref = -torch.rand(2 * pairs) * 10

    want, metrics = _trl_loss(options, per_token, completion, ref)
    want.backward()

    sequence = per_token.detach().sum(dim=1).requires_grad_()
    result = preference_loss(SequenceLogps(sequence, lengths), ref, options)
    got = result.losses.sum() / pairs  # the runner divides the step's loss sum by its pairs
    got.backward()
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    # on the answer tokens, d loss / d token log-prob = d loss / d its sequence's log-prob
    assert torch.allclose(per_token.grad * shifted, sequence.grad[:, None] * shifted, atol=1e-6)
    chosen, rejected = sequence.detach().chunk(2)
    for key, value in result.metrics(chosen, rejected).items():
        assert value == pytest.approx(metrics[key], rel=1e-5, abs=1e-7), key


def test_sigmoid_loss_of_equal_policy_and_reference_is_log_2():
    logps = torch.tensor([-3.0, -4.0, -5.0, -6.0])
    result = preference_loss(SequenceLogps(logps, torch.tensor([2, 2, 3, 3])), logps.clone(), DpoOptions())
    assert torch.allclose(result.losses, torch.full((2,), math.log(2)))
