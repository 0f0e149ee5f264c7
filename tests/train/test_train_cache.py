"""Frozen-feature cache: hits reuse bf16 features (identical to a miss, which is rounded alike), every key
part causes a miss, and entries are shared across epochs, stages and runs."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from safetensors import safe_open

import mmbind
from mmbind.data import build_stage_data
from mmbind.train import FeatureCache, TrainForward, encoder_identity, train
from mmbind.train.forward import media_inputs
from tests.support.train import loss_values, make_data, tiny_train_recipe


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data"), images=2, videos=2, text_only=1)


def _loader(recipe, model, cache, frames=4):
    identities = {m: encoder_identity(model, m, frames, "fp32") for m in model.encoders}
    return build_stage_data(recipe.data, "finetune", recipe.stages["finetune"], model, cache, identities)


def _encode(model, cache, batch):
    """What the training forward projects for ``batch`` (cache hits merged, misses rounded and stored)."""
    return model.encode(*media_inputs(batch), TrainForward(model, cache).store(batch))


def test_hits_skip_decoding_and_match_fresh_features(data, tmp_path):
    recipe = tiny_train_recipe(data)
    model = mmbind.build_model(recipe).eval()
    cache = FeatureCache(tmp_path / "cache")
    dataset, _, collator = _loader(recipe, model, cache)
    first = collator([dataset[i] for i in range(len(dataset))])
    assert first.media["video"].features is None and all(first.media["video"].store_keys)
    with torch.no_grad():
        fresh = _encode(model, cache, first)  # misses: encoded and stored
    assert cache.entries() == 4 and cache.size_bytes() > 0
    second = collator([dataset[i] for i in range(len(dataset))])
    assert second.media["video"].pixels is None and second.media["video"].features.dtype == torch.bfloat16
    with torch.no_grad():
        cached = _encode(model, cache, second)
    for modality in ("image", "video"):  # misses are rounded like hits: a cold and a warm cache train alike
        assert torch.equal(cached[modality], fresh[modality])
        with torch.no_grad():
            raw = model.projector_for(modality)(model.encoders[modality](first.media[modality].pixels))
        assert torch.allclose(raw, fresh[modality], rtol=2e-2, atol=2e-2)
        assert not torch.equal(raw, fresh[modality])  # really bf16-rounded
    any_file = next((tmp_path / "cache").glob("*/*.safetensors"))
    with safe_open(str(any_file), "pt") as handle:
        assert handle.get_tensor("features").dtype == torch.bfloat16  # stored as bf16 on disk


def test_with_workers_digests_are_computed_once_in_the_main_process(data, tmp_path):
    from mmbind.train import feature_cache

    recipe = tiny_train_recipe(data, "data.num_workers=2")
    model = mmbind.build_model(recipe)
    feature_cache._DIGESTS.clear()
    dataset, _, _ = _loader(recipe, model, FeatureCache(tmp_path / "cache"))
    media = dataset.cached_media()
    assert len(set(media)) == 4  # the 2 images and 2 videos of the finetune samples
    assert {path for path, _, _ in feature_cache._DIGESTS} == {str(p) for p in media}
    feature_cache._DIGESTS.clear()
    _loader(tiny_train_recipe(data), model, FeatureCache(tmp_path / "cache"))
    # without workers, files are hashed lazily as samples are read: only the one sample that the
    # usability check (`require_usable`) prepared before training has its file hashed
    assert len(feature_cache._DIGESTS) == 1


def test_every_key_part_is_a_miss(data, tmp_path):
    recipe = tiny_train_recipe(data)
    model = mmbind.build_model(recipe)
    cache = FeatureCache(tmp_path / "cache")
    video = data / "videos" / "000.mp4"
    base = cache.key(video, encoder_identity(model, "video", 4, "fp32"))
    assert base == cache.key(video, encoder_identity(model, "video", 4, "fp32"))  # stable
    copy = tmp_path / "other.mp4"
    copy.write_bytes(video.read_bytes() + b"\x00")
    variants = {
        "content": cache.key(copy, encoder_identity(model, "video", 4, "fp32")),
        "frames": cache.key(video, encoder_identity(model, "video", 3, "fp32")),
        "precision": cache.key(video, encoder_identity(model, "video", 4, "bf16_mixed")),
        "modality": cache.key(video, encoder_identity(model, "image", 4, "fp32")),
    }
    other = mmbind.build_model(tiny_train_recipe(data, "model.encoders.video.options.select_layer=-1"))
    variants["identity"] = cache.key(video, encoder_identity(other, "video", 4, "fp32"))
    with torch.no_grad():
        next(model.encoders["video"].parameters()).add_(1e-3)
    variants["weights"] = cache.key(video, encoder_identity(model, "video", 4, "fp32"))
    with torch.no_grad():
        next(model.encoders["video"].parameters()).sub_(1e-3)
    transform = model.encoders["video"].media_transform()
    model.encoders["video"].media_transform = lambda: dataclasses.replace(transform, train_flip=True)
    variants["preprocessing"] = cache.key(video, encoder_identity(model, "video", 4, "fp32"))
    assert all(key != base for key in variants.values()), variants
    assert len(set(variants.values())) == len(variants)


@pytest.mark.slow
def test_entries_are_reused_across_stages_and_runs(data, tmp_path):
    cache_dir = tmp_path / "cache"
    recipe = tiny_train_recipe(data, "stages.pretrain.epochs=2", "stages.finetune.epochs=1", cache=cache_dir)
    first = train(recipe, tmp_path / "a", progress=False)
    entries = FeatureCache(cache_dir).entries()
    assert entries == 4  # 2 images + 2 videos, encoded once although seen in 3 epochs over 2 stages
    assert first["stages"]["finetune"]["feature_cache"]["bytes"] == FeatureCache(cache_dir).size_bytes() > 0
    mtimes = {p: p.stat().st_mtime_ns for p in cache_dir.glob("*/*.safetensors")}
    train(tiny_train_recipe(data, "stages.pretrain.epochs=1", "stages.finetune.epochs=1", cache=cache_dir),
          tmp_path / "b", progress=False)
    assert {p: p.stat().st_mtime_ns for p in cache_dir.glob("*/*.safetensors")} == mtimes  # all hits
    train(recipe, tmp_path / "warm", progress=False)  # the first run again, now on a warm cache
    assert loss_values(tmp_path / "warm") == loss_values(tmp_path / "a")


