"""Training from shards is training from the JSON files: the stage's dataset gives the same examples in the
same order (a bad sample inside a shard skipped and reported by its id), the tiny recipe logs the same
losses when its shards are served over HTTP through a cache that must evict, and a run interrupted and
resumed from shards ends with the weights of the run on the JSON files, bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import mmbind
from mmbind.data import BadSample, Example, build_stage_data
from mmbind.train import StepInfo, train
from mmbind.train.loop import Interrupt
from tests.support.helpers import bit_identical
from tests.support.shards import serve, shard, shard_overrides
from tests.support.train import logged_losses, make_data, tiny_train_recipe

STEPS = ("stages.pretrain.max_steps=2", "stages.finetune.max_steps=3", "stages.finetune.save_every_steps=1")
FINAL = Path("stages") / "finetune" / "model.safetensors"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    make_data(root / "data", images=3, videos=3, text_only=2)
    for name in ("pretrain", "finetune"):
        shard(root / f"{name}-shards", root / "data" / f"{name}.json")
    return root


@pytest.fixture(scope="module")
def from_json(data, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("json") / "run"
    train(tiny_train_recipe(data / "data", *STEPS), run, progress=False)
    return run


def _items(recipe) -> list:
    torch.manual_seed(0)
    model = mmbind.build_model(recipe).eval()
    dataset, _, _ = build_stage_data(recipe.data, "finetune", recipe.stages["finetune"], model)
    return [dataset[i] for i in range(len(dataset))]


@pytest.mark.slow
def test_the_stage_dataset_from_shards_gives_the_examples_of_the_json(data, tmp_path):
    plain = _items(tiny_train_recipe(data / "data"))
    samples = json.loads((data / "data" / "finetune.json").read_text())
    damaged = {**next(s for s in samples if "image" in s), "id": "unreadable", "image": "images/garbage.png"}
    (data / "data" / "images" / "garbage.png").write_bytes(b"not a png")  # a file, but not an image
    (data / "data" / "with_bad.json").write_text(json.dumps([*samples, damaged]))
    shards = tmp_path / "shards"
    shard(shards, data / "data" / "with_bad.json")
    overrides = shard_overrides(str(data / "pretrain-shards"), str(shards), tmp_path / "cache")
    sharded = _items(tiny_train_recipe(data / "data", *overrides))
    assert [type(i) for i in sharded] == [Example] * len(plain) + [BadSample]
    assert all(isinstance(i, Example) for i in plain)
    for a, b in zip(plain, sharded):
        assert a.id == b.id and torch.equal(a.input_ids, b.input_ids) and torch.equal(a.labels, b.labels)
        assert [torch.equal(x.pixels, y.pixels) for x, y in zip(a.media, b.media)] == [True] * len(a.media)
    assert sharded[-1].id == "unreadable" and ".image.0.png" in sharded[-1].reason


@pytest.mark.slow
def test_training_from_shards_over_http_logs_the_losses_of_the_json(data, from_json, tmp_path):
    sizes = [s["size"] for name in ("pretrain", "finetune")
             for s in json.loads((data / f"{name}-shards" / "index.json").read_text())["mmbind"]["shards"]]
    with serve(data) as (url, asked):
        overrides = shard_overrides(f"{url}/pretrain-shards", f"{url}/finetune-shards", tmp_path / "cache",
                                    max_bytes=max(sizes))  # room for one or two shards
        train(tiny_train_recipe(data / "data", *STEPS, *overrides), tmp_path / "run", progress=False)
    assert logged_losses(tmp_path / "run") == logged_losses(from_json)
    downloads = [path for path in asked if path.endswith(".tar")]
    assert len(downloads) > len(set(downloads))  # evicted shards were downloaded again when read again
    cached = sum(p.stat().st_size for p in (tmp_path / "cache").rglob("*")
                 if p.is_file() and p.name != ".entry.json")
    assert cached <= max(sizes)


@pytest.mark.slow
def test_a_run_on_shards_interrupted_and_resumed_ends_bit_identical(data, from_json, tmp_path):
    overrides = shard_overrides(str(data / "pretrain-shards"), str(data / "finetune-shards"), tmp_path / "c")
    recipe = tiny_train_recipe(data / "data", *STEPS, *overrides)

    def stop_at_first_finetune_step(info: StepInfo) -> None:
        if info.stage == "finetune" and info.step == 1:
            Interrupt.requested = True  # as the first Ctrl-C does: the next step ends with a checkpoint

    run = tmp_path / "run"
    summary = train(recipe, run, callbacks=[stop_at_first_finetune_step], progress=False)
    assert summary["status"] == "interrupted"
    assert not (run / FINAL).exists()
    train(recipe, run, resume=True, progress=False)
    assert bit_identical(load_file(str(run / FINAL)), load_file(str(from_json / FINAL)))
    assert logged_losses(run) == logged_losses(from_json)
