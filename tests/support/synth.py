"""Shared helpers of the synth / eval / chat tests: a micro synthetic dataset and a fake run directory
holding a tiny random Video-LLaVA (with the dataset's tokenizer) as its finetune stage's output."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

import mmbind
from mmbind.synth import generate_dataset, read_manifest

ROOT = Path(__file__).resolve().parents[2]
TINY_RECIPE = ROOT / "mmbind" / "recipes" / "tiny" / "video_llava.yaml"


def tree_hashes(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``root``."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def make_micro(root: Path, seed: int = 0) -> Path:
    """Generate the micro dataset into ``root``; returns ``root``."""
    generate_dataset(root, seed=seed, size="micro")
    return root


def tiny_model(data: Path, seed: int = 0) -> mmbind.MultimodalLM:
    """The tiny Video-LLaVA with ``data``'s tokenizer (LLM vocabulary sized to fit it), random weights."""
    vocab = read_manifest(data)["tokenizer"]["vocab_size"]
    recipe = mmbind.load_recipe(TINY_RECIPE, [
        f"model.llm.options.tokenizer={data / 'tokenizer'}", f"model.llm.options.config.vocab_size={vocab}",
        f"model.seed={seed}",
    ])
    return mmbind.build_model(recipe).eval()


def make_run(data: Path, run: Path, frames: int = 4) -> Path:
    """A run directory as `mmbind train` leaves it after stage ``finetune`` (``pretrain`` unfinished)."""
    model = tiny_model(data)
    model.save_pretrained(run / "stages" / "finetune")
    recipe = {
        "name": "fake-run", "model": model.config.model,
        "data": {"video_frames": frames, "datasets": {
            "pretrain": {"template": "plain", "files": [{"path": str(data / "pretrain.json")}]},
            "finetune": {"template": "vicuna_v1", "files": [{"path": str(data / "finetune.json")}]},
        }},
        "stages": {"pretrain": {"train": ["projector"]}, "finetune": {"train": ["projector", "llm"]}},
    }
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return run
