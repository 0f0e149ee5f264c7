"""Shared test set-up: offline hub, small thread count, common fixtures."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True, scope="session")
def _cache_folder(tmp_path_factory):
    """mmbind's cache (transformers configs checked before) in the session's temporary folder, for the
    commands the tests run too, never in the user's."""
    os.environ["MMBIND_CACHE_DIR"] = str(tmp_path_factory.mktemp("mmbind-cache"))


@pytest.fixture
def tiny_recipe_path():
    """Path of the tiny Video-LLaVA recipe."""
    from mmbind.recipe.paths import resolve_recipe_path

    return resolve_recipe_path("tiny/hf_video_llava")


@pytest.fixture(scope="session")
def micro(tmp_path_factory) -> Path:
    """The micro synthetic dataset (seed 0), generated once; tests only read it."""
    from tests.support.synth import make_micro

    return make_micro(tmp_path_factory.mktemp("micro"))


@pytest.fixture(scope="session")
def run(micro, tmp_path_factory) -> Path:
    """A run directory as `mmbind train` leaves it (a tiny random model) on the micro dataset."""
    from tests.support.synth import make_run

    return make_run(micro, tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="session")
def generator(run):
    """The `run`'s model behind a `Generator` (default template, the run's 4 frames); it keeps only a
    deterministic pixel cache, so tests can share it."""
    import mmbind
    from mmbind.inference import Generator, resolve_target, video_frames

    target = resolve_target(run)
    model = mmbind.load_pretrained(target.model_dir)
    return Generator(model, frames=video_frames(target, model))
