"""Joint image/video/text batches, packing, sample orders and bad samples in the dataset."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch

import mmbind
from mmbind.data import BadSample, EpochOrder, build_stage_data, micro_batch
from mmbind.train import TrainForward
from tests.support.train import make_data, tiny_train_recipe


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    data = make_data(tmp_path_factory.mktemp("data"), images=3, videos=3, text_only=2)
    recipe = tiny_train_recipe(data)
    model = mmbind.build_model(recipe).eval()
    dataset, order, collator = build_stage_data(recipe.data, "finetune", recipe.stages["finetune"], model)
    return data, recipe, model, dataset, collator


def _examples(dataset):
    return [dataset[i] for i in range(len(dataset))]


def test_joint_batch_feeds_multimodal_lm_forward_and_matches_per_sample_losses(setup):
    _, _, model, dataset, collator = setup
    examples = _examples(dataset)
    kinds = Counter("video" if e.media and e.media[0].modality == "video" else "image" if e.media else "text"
                    for e in examples)
    assert kinds == {"image": 3, "video": 3, "text": 2}
    batch = collator(examples)
    assert batch.media["image"].pixels.shape[0] == 3 and batch.media["video"].pixels.shape[0] == 3
    with torch.no_grad():
        out = model(**batch.model_inputs())
        loss_sum = TrainForward(model)(batch)
        singles = [TrainForward(model)(collator([e])) for e in examples]
    assert torch.allclose(loss_sum / batch.supervised_tokens, out.loss, atol=1e-5)
    assert torch.allclose(torch.stack(singles).sum(), loss_sum, atol=1e-4)  # media matched to their rows


def test_packing_has_no_padding_and_gives_the_padded_loss(setup):
    _, _, model, dataset, collator = setup
    examples = _examples(dataset)
    padded = collator(examples)
    packed = type(collator)(collator.pad_id, packing=True)(examples)
    assert packed.input_ids.shape == (1, sum(len(e.input_ids) for e in examples))
    assert bool(packed.attention_mask.all())
    real = sum(padded.lengths)
    assert real < padded.size * max(padded.lengths)  # padding would have been computed
    with torch.no_grad():
        a, b = TrainForward(model)(padded), TrainForward(model)(packed)
    assert torch.allclose(a, b, rtol=1e-5, atol=1e-4)


def test_epoch_order_mixes_files_by_weight_and_is_deterministic():
    order = EpochOrder([10, 4], [0.5, 2.0], global_batch=4, seed=3)
    first = order.order(0)
    counts = Counter(first)
    assert len(first) == len(order) == 5 + 8
    assert sum(counts[i] for i in range(10)) == 5 and all(counts[i] <= 1 for i in range(10))
    assert all(counts[i] == 2 for i in range(10, 14))
    assert first == EpochOrder([10, 4], [0.5, 2.0], global_batch=4, seed=3).order(0)
    assert first != order.order(1)
    assert order.steps_per_epoch == 4


def test_drop_last_keeps_whole_global_batches_of_the_same_order():
    # the caption pairs of align / mae stages: a contrastive loss over the batch needs every batch full
    full, whole = EpochOrder([10], [1.0], 4, seed=5), EpochOrder([10], [1.0], 4, seed=5, drop_last=True)
    assert (full.steps_per_epoch, whole.steps_per_epoch) == (3, 2)
    assert whole.order(2) == full.order(2)[:8] and len(set(whole.order(2))) == 8
    assert EpochOrder([3], [1.0], 4, drop_last=True).order(0) == []


def test_one_rank_with_accumulation_sees_what_several_ranks_see():
    order = list(range(100, 124))
    one = [micro_batch(order, 1, m, 0, 1, 3, 12) for m in range(4)]
    two = [micro_batch(order, 1, m, r, 2, 3, 12) for m in range(2) for r in range(2)]
    four = [micro_batch(order, 1, 0, r, 4, 3, 12) for r in range(4)]
    assert sorted(sum(one, [])) == sorted(sum(two, [])) == sorted(sum(four, [])) == order[12:24]


def test_modality_grouped_order_keeps_batches_single_modality():
    groups = {i: ("video" if i % 3 == 0 else "image", i) for i in range(24)}
    order = EpochOrder([24], [1.0], global_batch=4, seed=0, group_length=groups.__getitem__).order(0)
    chunks = [order[i:i + 4] for i in range(0, 24, 4)]
    full = [c for c in chunks if len({groups[i][0] for i in c}) == 1]
    assert len(full) >= 5  # 8 videos + 16 images: every global batch but the leftovers is one modality
    assert all(c == sorted(c, key=lambda i: -groups[i][1]) for c in chunks)  # longest first within a batch


def test_bad_samples_come_back_with_their_reason(setup, tmp_path):
    data, recipe, model, _, _ = setup
    (tmp_path / "corrupt.mp4").write_bytes(b"not a video at all")
    samples = json.loads((data / "finetune.json").read_text())[:1]
    samples += [
        {"id": "missing", "image": str(data / "images" / "nope.png"),
         "conversations": [{"from": "human", "value": "<image>\nQ?"}, {"from": "gpt", "value": "A."}]},
        {"id": "corrupt", "video": str(tmp_path / "corrupt.mp4"),
         "conversations": [{"from": "human", "value": "<video>\nQ?"}, {"from": "gpt", "value": "A."}]},
        {"id": "malformed", "conversations": [{"from": "gpt", "value": "A."}]},
    ]
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(samples))
    datasets = {"finetune": {"files": [{"path": str(path), "image_root": str(data)}]}}
    data_spec = type(recipe.data).model_validate({**recipe.data.model_dump(), "datasets": datasets})
    dataset, _, collator = build_stage_data(data_spec, "finetune", recipe.stages["finetune"], model)
    items = _examples(dataset)
    bad = {b.id: b.reason for b in items if isinstance(b, BadSample)}
    assert set(bad) == {"missing", "corrupt", "malformed"}
    assert "nope.png" in bad["missing"] and "corrupt.mp4" in bad["corrupt"]
    assert "conversations[0] is from gpt, expected human" in bad["malformed"]
    batch = collator(items)
    assert batch.size == 1 and [b.id for b in batch.bad] == ["missing", "corrupt", "malformed"]


def test_model_forward_sum_is_the_training_loss_and_mean_is_sum_over_count(tmp_path):
    from mmbind.train.forward import media_inputs

    data = make_data(tmp_path / "data", images=2, videos=2, text_only=2)
    recipe = tiny_train_recipe(data)
    model = mmbind.build_model(recipe).eval()
    dataset, _, collator = build_stage_data(recipe.data, "finetune", recipe.stages["finetune"], model)
    batch = collator([dataset[i] for i in range(len(dataset))])
    media, features = media_inputs(batch)
    with torch.no_grad():
        wrapped = TrainForward(model)(batch)
        summed = model(batch.input_ids, batch.attention_mask, batch.labels, media=media, loss_reduction="sum")
        mean = model(batch.input_ids, batch.attention_mask, batch.labels, media=media)
    assert summed.loss.item() == pytest.approx(wrapped.item(), rel=1e-6) and summed.loss.item() > 0
    assert int(summed.num_tokens) == batch.supervised_tokens
    assert mean.loss.item() == pytest.approx(summed.loss.item() / int(summed.num_tokens), rel=1e-6)
