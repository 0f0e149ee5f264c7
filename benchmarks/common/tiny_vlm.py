"""tiny_vlm.py

The tiny random Video-LLaVA the serving benchmarks talk to: the micro synthetic dataset (its tokenizer,
images and videos) generated into a folder, and ``recipes/tiny/video_llava.yaml`` built with that
tokenizer, saved as a checkpoint. Seconds on a CPU, nothing downloaded.
"""

from __future__ import annotations

from pathlib import Path

import mmbind
from mmbind.recipe.paths import resolve_recipe_path
from mmbind.synth import generate_dataset, read_manifest


def tiny_checkpoint(root: Path) -> tuple[Path, Path]:
    """(checkpoint directory, dataset directory) under ``root``."""
    data = root / "micro"
    generate_dataset(data, seed=0, size="micro")
    vocab = read_manifest(data)["tokenizer"]["vocab_size"]
    recipe = mmbind.load_recipe(resolve_recipe_path("tiny/video_llava"), [
        f"model.llm.options.tokenizer={data / 'tokenizer'}", f"model.llm.options.config.vocab_size={vocab}",
        "model.seed=0",
    ])
    model_dir = root / "model"
    mmbind.build_model(recipe).eval().save_pretrained(model_dir)
    return model_dir, data
