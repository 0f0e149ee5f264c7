"""MultimodalLM: mixed batches, loss masking, shape errors, generation, save / load."""

from __future__ import annotations

import json

import pytest
import torch

import mmbind
from tests.support.helpers import pad_rows


@pytest.fixture(scope="module")
def model():
    from mmbind.recipe.paths import resolve_recipe_path

    return mmbind.build_model(mmbind.load_recipe(resolve_recipe_path("tiny/hf_video_llava"))).eval()


@pytest.fixture(scope="module")
def media():
    g = torch.Generator().manual_seed(0)
    return torch.randn(3, 3, 28, 28, generator=g), torch.randn(2, 3, 3, 28, 28, generator=g)


def samples(model):
    img, vid = model.config.placeholder_ids["image"], model.config.placeholder_ids["video"]
    return [
        ([1, img, 5, 6], ["image"]),  # image only
        ([1, 7, vid, 8], ["video"]),  # video only
        ([1, vid, 9, img, 10, img], ["video", "image", "image"]),  # both
        ([1, 11, 12, 13, 14, 15, 16], []),  # text only
    ]


def test_mixed_batch_equals_each_sample_alone(model, media):
    images, videos = media
    rows = [r for r, _ in samples(model)]
    ids, mask = pad_rows(rows)
    with torch.no_grad():
        batch = model(ids, mask, images=images, videos=videos)
    assignment = {"image": iter(images), "video": iter(videos)}
    for i, (row, kinds) in enumerate(samples(model)):
        own = {k: torch.stack([next(assignment[k]) for k2 in kinds if k2 == k]) for k in set(kinds)}
        with torch.no_grad():
            alone = model(torch.tensor([row]), media=own)
        n = alone.logits.shape[1]
        assert batch.attention_mask[i].sum() == n
        torch.testing.assert_close(batch.logits[i, :n], alone.logits[0], atol=1e-5, rtol=1e-5)


def test_expanded_length_counts_tokens_per_item(model, media):
    images, videos = media
    ids, mask = pad_rows([samples(model)[2][0]])
    out = model(ids, mask, images=images[:2], videos=videos[:1])
    per_image = model.encoders["image"].tokens_per_item()
    per_video = model.encoders["video"].tokens_per_item(num_frames=3)
    assert per_image == 4 and per_video == 15  # 28px / patch 14 = 4 patches; video keeps CLS: 3 x 5
    assert out.logits.shape[1] == 6 - 3 + 2 * per_image + per_video


def test_loss_never_supervises_visual_positions(model, media):
    images, _ = media
    img = model.config.placeholder_ids["image"]
    ids = torch.tensor([[1, img, 5, 6, 7]])
    out = model(ids, images=images[:1], labels=ids.clone())
    labels = out.labels[0]
    assert (labels[1:5] == -100).all() and labels[5:].tolist() == [5, 6, 7] and labels[0] == 1
    logits = out.logits[0, :-1]
    expected = torch.nn.functional.cross_entropy(logits[labels[1:] != -100], labels[1:][labels[1:] != -100])
    torch.testing.assert_close(out.loss, expected)
    out.loss.backward()
    assert model.projectors["shared"].layers[0].weight.grad is not None
    assert all(p.grad is None for p in model.encoders.parameters())
    model.zero_grad(set_to_none=True)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"images": torch.zeros(1, 3, 32, 32)},
         r"image: expected a float tensor of shape \(N, 3, 28, 28\), got torch.float32 \(1, 3, 32, 32\)"),
        ({"videos": torch.zeros(1, 3, 28, 28)},
         r"video: expected a float tensor of shape \(N, T, 3, 28, 28\)"),
        ({"images": torch.zeros(1, 3, 28, 28, dtype=torch.uint8)}, r"got torch.uint8"),
        ({"media": {"depth": torch.zeros(1, 3, 28, 28)}},
         r"media 'depth': this model has no depth encoder \(it has: image, video\)"),
        ({"images": torch.zeros(2, 3, 28, 28)},
         r"input_ids hold 1 'image' placeholder\(s\) .* but 2 image item\(s\)"),
    ],
)
def test_bad_inputs_are_typed_errors(model, kwargs, message):
    img = model.config.placeholder_ids["image"]
    with pytest.raises(mmbind.InputError, match=message):
        model(torch.tensor([[1, img, 2]]), **kwargs)


def test_bad_text_tensors(model):
    with pytest.raises(mmbind.InputError, match=r"input_ids: expected an integer tensor of shape \(B, S\)"):
        model(torch.zeros(3, dtype=torch.long))
    with pytest.raises(mmbind.InputError,
                       match=r"attention_mask: shape \(1, 2\) differs from input_ids \(1, 3\)"):
        model(torch.zeros(1, 3, dtype=torch.long), torch.ones(1, 2, dtype=torch.long))


def test_batched_left_padded_generation_equals_single(model, media):
    images, videos = media
    rows = [r for r, _ in samples(model)]
    ids, mask = pad_rows(rows, side="left")
    batch = model.generate(ids, mask, images=images, videos=videos, max_new_tokens=6)
    assert batch.shape == (4, 6)
    assignment = {"image": iter(images), "video": iter(videos)}
    for i, (row, kinds) in enumerate(samples(model)):
        own = {k: torch.stack([next(assignment[k]) for k2 in kinds if k2 == k]) for k in set(kinds)}
        alone = model.generate(torch.tensor([row]), media=own, max_new_tokens=6)
        assert alone[0].tolist() == batch[i].tolist()


def test_generation_matches_argmax_of_forward(model, media):
    images, _ = media
    img = model.config.placeholder_ids["image"]
    ids = torch.tensor([[1, img, 5, 6]])
    new = model.generate(ids, images=images[:1], max_new_tokens=3)
    seq = ids
    for step in range(3):
        logits = model(seq, images=images[:1]).logits
        token = logits[0, -1].argmax()
        assert token == new[0, step]
        seq = torch.cat([seq, token.view(1, 1)], dim=1)


def test_sampling_is_seeded(model, media):
    images, _ = media
    ids = torch.tensor([[1, model.config.placeholder_ids["image"], 5]])
    torch.manual_seed(3)
    a = model.generate(ids, images=images[:1], max_new_tokens=8, do_sample=True, temperature=1.5)
    torch.manual_seed(3)
    b = model.generate(ids, images=images[:1], max_new_tokens=8, do_sample=True, temperature=1.5)
    assert torch.equal(a, b)


def test_save_and_load_round_trip(model, media, tmp_path):
    images, videos = media
    model.save_pretrained(tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "mmbind_config.json").read_text())
    assert config["placeholder_ids"] == model.config.placeholder_ids
    assert config["model"]["encoders"]["video"]["plugin"] == "clip_vision"
    loaded = mmbind.load_pretrained(tmp_path / "ckpt")
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    ids, mask = pad_rows([r for r, _ in samples(model)])
    with torch.no_grad():
        assert torch.equal(model(ids, mask, images=images, videos=videos).logits,
                           loaded(ids, mask, images=images, videos=videos).logits)
    # the transformers-style classmethod delegates to mmbind.load_pretrained, arguments included
    doubled = mmbind.MultimodalLM.from_pretrained(tmp_path / "ckpt", dtype=torch.float64)
    assert not doubled.training
    for (k, a), (k2, b) in zip(loaded.state_dict().items(), doubled.state_dict().items()):
        assert k == k2 and torch.equal(a.double(), b.double())
        assert b.dtype == (torch.float64 if a.is_floating_point() else a.dtype)


def test_missing_or_incomplete_checkpoints(model, tmp_path):
    with pytest.raises(mmbind.CheckpointError,
                       match=r"not an mmbind checkpoint \(mmbind_config.json is missing\)"):
        mmbind.load_pretrained(tmp_path)
    model.save_pretrained(tmp_path / "c")
    (tmp_path / "c" / "model.safetensors").unlink()
    with pytest.raises(mmbind.CheckpointError,
                       match=r"no weights \(model.safetensors or model.safetensors.index.json\) found"):
        mmbind.load_pretrained(tmp_path / "c")
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("projectors.")}
    save_file(state, str(tmp_path / "c" / "model.safetensors"))
    with pytest.raises(mmbind.CheckpointError,
                       match=r"weights do not match the model: 4 missing "
                             r"\(first: projectors.shared.layers.0.weight"):
        mmbind.load_pretrained(tmp_path / "c")
    (tmp_path / "c" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(mmbind.CheckpointError, match=r"unreadable safetensors file"):
        mmbind.load_pretrained(tmp_path / "c")


def test_sharded_weights_and_tied_embeddings(tmp_path):
    from mmbind.recipe.paths import resolve_recipe_path

    recipe = mmbind.load_recipe(
        resolve_recipe_path("tiny/hf_video_llava"),
        overrides=["model.llm.options.config={model_type: gpt2, vocab_size: 64, n_embd: 32, n_layer: 2, "
                   "n_head: 2, n_positions: 128, tie_word_embeddings: true}"],
    )
    model = mmbind.build_model(recipe).eval()
    from mmbind.model.weights import save_state_dict

    save_dir = tmp_path / "gpt2"
    model.save_pretrained(save_dir)
    (save_dir / "model.safetensors").unlink()
    tied = save_state_dict(model.state_dict(), save_dir, max_shard_bytes=20_000)
    assert tied == {"llm.model.lm_head.weight": "llm.model.transformer.wte.weight"}
    assert len(list(save_dir.glob("model-*-of-*.safetensors"))) > 2
    loaded = mmbind.load_pretrained(save_dir)
    assert loaded.llm.model.lm_head.weight.data_ptr() == loaded.llm.model.transformer.wte.weight.data_ptr()
    ids = torch.tensor([[1, model.config.placeholder_ids["image"], 3]])
    image = torch.randn(1, 3, 28, 28)
    assert torch.equal(model(ids, images=image).logits, loaded(ids, images=image).logits)


def test_unshared_projectors_and_width_mismatch(tmp_path):
    from mmbind.recipe.paths import resolve_recipe_path

    path = resolve_recipe_path("tiny/hf_video_llava")
    with pytest.raises(mmbind.RecipeError,
                       match=r"model.projector.shared: one projector cannot serve encoders of "
                             r"different widths \(image 64, video 32\)"):
        mmbind.build_model(
            mmbind.load_recipe(path, overrides=["model.encoders.image.options.select_layer=[-2, -1]"])
        )
    model = mmbind.build_model(mmbind.load_recipe(
        path, overrides=["model.encoders.image.options.select_layer=[-2, -1]", "model.projector.shared=false"]
    ))
    assert set(model.projectors) == {"image", "video"}
    assert model.projectors["image"].in_dim == 64 and model.projectors["video"].in_dim == 32
