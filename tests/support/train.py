"""Shared helpers of the training tests: a tiny synthetic dataset and the tiny training recipe."""

from __future__ import annotations

from pathlib import Path

from mmbind.recipe import load_recipe
from mmbind.recipe.schema import Recipe
from mmbind.synth.tiny import make_dataset
from mmbind.train.metrics import MetricsLog

ROOT = Path(__file__).resolve().parents[2]
TRAIN_RECIPE = ROOT / "mmbind" / "recipes" / "tiny" / "train.yaml"


def make_data(root: Path, images: int = 4, videos: int = 4, text_only: int = 2) -> Path:
    """Write the synthetic dataset under ``root``; returns ``root``."""
    make_dataset(root, images=images, videos=videos, text_only=text_only)
    return root


def data_overrides(data: Path, cache: Path | None = None) -> list[str]:
    """Overrides pointing the tiny training recipe at ``data`` (and a private feature cache)."""
    out = [
        f"model.llm.options.tokenizer={data / 'tokenizer'}",
        f"data.datasets.pretrain.files=[{{path: {data / 'pretrain.json'}}}]",
        f"data.datasets.finetune.files=[{{path: {data / 'finetune.json'}}}]",
    ]
    if cache is None:
        out.append("data.feature_cache.enabled=false")
    else:
        out.append(f"data.feature_cache.dir={cache}")
    return out


def tiny_train_recipe(data: Path, *overrides: str, cache: Path | None = None) -> Recipe:
    """The tiny two-stage recipe on ``data`` with extra KEY=VALUE overrides."""
    return load_recipe(TRAIN_RECIPE, [*data_overrides(data, cache), *overrides])


def logged_losses(run: Path) -> list[tuple[str, int, float]]:
    """(stage, step, loss) of every record of the run's ``metrics.jsonl`` that has a loss, in order."""
    return [(r["stage"], r["step"], r["loss"]) for r in MetricsLog(run).records() if "loss" in r]


def loss_values(run: Path, stage: str | None = None) -> list[float]:
    """The logged losses of the run (of one stage when ``stage`` is given), in order."""
    return [loss for name, _, loss in logged_losses(run) if stage is None or name == stage]
