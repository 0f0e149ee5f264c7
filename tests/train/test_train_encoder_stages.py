"""``align`` and ``mae`` stages run by the one stage runner: SIGKILLed mid-stage and resumed they end
bit-identical to an uninterrupted run, and 2 CPU ranks (gloo) give the 1-rank losses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from mmbind.train.checkpoint import list_checkpoints, read_state
from tests.support.helpers import bit_identical, run_two_ranks, wait_until_paused
from tests.support.train import logged_losses, make_data

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "mmbind" / "recipes" / "tiny" / "video_llava.yaml"
DRIVER = Path(__file__).resolve().parents[1] / "support" / "train_driver.py"
MAE_IMAGE = {"plugin": "mae", "options": {
    "model": "vit_base_patch16_224.mae", "select_layer": -2,
    "config": {"img_size": 28, "patch_size": 7, "embed_dim": 32, "depth": 2, "num_heads": 4, "mlp_ratio": 2}}}
COMMON = {"dataset": "captions", "lr": 2.0e-3, "global_batch": 4, "warmup_ratio": 0.0, "max_steps": 7,
          "save_every_steps": 3}
STAGES = {
    "align": ({"align_image": {**COMMON, "kind": "align", "options": {"modality": "image"}}}, None),
    "mae": ({"mae_image": {**COMMON, "kind": "mae", "options": {"modality": "image"}}}, MAE_IMAGE),
}
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data"), images=16, videos=2, text_only=0)


def _recipe(data: Path, kind: str, directory: Path) -> Path:
    stages, image = STAGES[kind]
    model: dict = {"llm": {"options": {"tokenizer": str(data / "tokenizer")}}}
    if image is not None:
        model["encoders"] = {"image": image}
    raw = {"base": str(TINY), "model": model, "stages": stages,
           "data": {"video_frames": 4, "feature_cache": {"enabled": False}, "datasets": {"captions": {
               "template": "plain", "files": [{"path": str(data / "pretrain.json")}]}}}}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _driver(recipe: Path, run: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(DRIVER), str(recipe), str(run), mode], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["align", "mae"])
def test_sigkill_mid_stage_then_resume_is_bit_identical(data, tmp_path, kind):
    recipe = _recipe(data, kind, tmp_path)
    stage = next(iter(STAGES[kind][0]))
    full, killed = tmp_path / "full", tmp_path / "killed"
    reference = _driver(recipe, full, "full")
    assert reference.wait(timeout=240) == 0, reference.stdout.read()
    paused = _driver(recipe, killed, "pause")
    wait_until_paused(paused, killed)
    paused.send_signal(signal.SIGKILL)
    assert paused.wait(timeout=30) == -signal.SIGKILL
    assert not (killed / "stages" / stage).exists()
    assert read_state(list_checkpoints(killed)[-1])["step"] == 3  # mid-epoch (4 steps per epoch)
    resumed = _driver(recipe, killed, "resume")
    assert resumed.wait(timeout=240) == 0, resumed.stdout.read()
    out_full, out_killed = full / "stages" / stage, killed / "stages" / stage
    assert bit_identical(load_file(str(out_killed / "model.safetensors")),
                        load_file(str(out_full / "model.safetensors")))
    extra = "text_encoder/heads.safetensors" if kind == "align" else "mae_decoder/decoder.safetensors"
    assert bit_identical(load_file(str(out_killed / extra)), load_file(str(out_full / extra)))
    assert logged_losses(killed) == logged_losses(full) and len(logged_losses(full)) == 7


def _comparable(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """What two runs must agree on: all of it, but for an attention's key bias. That gets no gradient (the
    softmax ignores a shift shared by every key), so AdamW moves it by the rounding noise of a ~1e-10
    gradient, which differs between one and two ranks (measured: up to 1.4e-4 in the MAE decoder, while the
    query and value biases agree to 1e-8)."""
    return tensor.view(3, -1)[[0, 2]] if name.endswith("qkv.bias") else tensor


def _torchrun(recipe: Path, run: Path, *overrides: str) -> None:
    run_two_ranks(["-m", "mmbind", "train", str(recipe), *overrides, "--output", str(run), "--no-progress"],
                  ENV)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
@pytest.mark.parametrize("kind", ["align", "mae"])
def test_two_ranks_match_one_rank(data, tmp_path, kind, strategy):
    from mmbind.recipe import load_recipe
    from mmbind.train import train

    recipe = _recipe(data, kind, tmp_path)
    train(load_recipe(recipe), tmp_path / "one", progress=False)
    stage = next(iter(STAGES[kind][0]))
    _torchrun(recipe, tmp_path / "two", f"stages.{stage}.strategy={strategy}")
    one, two = logged_losses(tmp_path / "one"), logged_losses(tmp_path / "two")
    assert [(s, n) for s, n, _ in two] == [(s, n) for s, n, _ in one] and len(one) == 7
    assert all(abs(a - b) < 1e-4 for (_, _, a), (_, _, b) in zip(two, one)), (two, one)
    # the saved encoder (gathered from the shards under fsdp) and the kind's extra files match too
    extra = "text_encoder/heads.safetensors" if kind == "align" else "mae_decoder/decoder.safetensors"
    for name in ("model.safetensors", extra):
        a, b = (load_file(str(run / "stages" / stage / name)) for run in (tmp_path / "one", tmp_path / "two"))
        assert a.keys() == b.keys(), name
        for key in a:
            assert torch.allclose(_comparable(key, a[key]), _comparable(key, b[key]), atol=1e-4), (name, key)
