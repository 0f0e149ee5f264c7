"""study.py

The embedded study behind ``mmbind demo``: generate the synthetic image + video benchmark, train a recipe's
stages on it (align encoders, stage 1, stage 2), and pick a few held-out questions to answer next to their
ground truth. Everything lands in one folder: ``OUT/data`` (the benchmark) and ``OUT/run`` (the run).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmbind.eval import select_sets
from mmbind.eval.predict import item_query
from mmbind.inference import Generator
from mmbind.recipe import Recipe, load_recipe, recipe_from_dict
from mmbind.recipe.paths import resolve_recipe_path
from mmbind.synth import MANIFEST, generate_dataset


@dataclass(frozen=True)
class StudyPaths:
    """Where the demo writes."""

    root: Path  # the demo folder

    @property
    def data(self) -> Path:
        """The generated benchmark."""
        return self.root / "data"

    @property
    def run(self) -> Path:
        """The training run."""
        return self.root / "run"


def ensure_data(paths: StudyPaths, size: str, seed: int) -> dict[str, Any]:
    """Generate the benchmark unless ``paths.data`` already holds one; returns its manifest."""
    from mmbind.synth import read_manifest

    if (paths.data / MANIFEST).is_file():
        return read_manifest(paths.data)
    return generate_dataset(paths.data, seed=seed, size=size)


def study_recipe(name: str, paths: StudyPaths, overrides: list[str]) -> Recipe:
    """The recipe ``name`` with every data path moved under ``paths.data`` (then ``overrides``)."""
    recipe = load_recipe(resolve_recipe_path(name), overrides=overrides)
    data = recipe.model_dump(mode="json", exclude_none=True)
    old_root = _data_root(data)
    if old_root is not None:
        data = _replace_prefix(data, old_root, str(paths.data))
    if data.get("data"):
        data["data"].setdefault("feature_cache", {})["dir"] = str(paths.root / "feature_cache")
    return recipe_from_dict(data, source=str(resolve_recipe_path(name)))


def sample_answers(model: Any, data_dir: Path, frames: int, per_modality: int = 3) -> list[dict[str, str]]:
    """Greedy answers to the first open questions of each modality's held-out set, with ground truth."""
    sets = [s for s in select_sets(data_dir, None) if s.kind == "open" and s.modality in model.encoders]
    generator = Generator(model, frames=frames)
    rows = []
    for eval_set in sets:
        items = _spread(eval_set.items, per_modality)
        answers = generator.answer([item_query(i, list(model.encoders)) for i in items])
        rows += [
            {"modality": i.modality or "text", "media": str(i.media.name if i.media else ""),
             "question": i.question.splitlines()[0], "answer": a, "truth": i.answer}
            for i, a in zip(items, answers)
        ]
    return rows


def _spread(items: list[Any], count: int) -> list[Any]:
    """``count`` items of different question types where possible."""
    picked, seen = [], set()
    for item in items:
        if item.group not in seen:
            picked.append(item)
            seen.add(item.group)
        if len(picked) == count:
            break
    return picked


def _data_root(recipe: dict[str, Any]) -> str | None:
    """The common folder of the recipe's dataset files and tokenizer (e.g. ``data/study``)."""
    paths = [f["path"] for d in (recipe.get("data") or {}).get("datasets", {}).values() for f in d["files"]]
    tokenizer = recipe["model"]["llm"]["options"].get("tokenizer")
    paths += [tokenizer] if tokenizer else []
    if not paths:
        return None
    return os.path.commonpath([str(Path(p).parent) if p.endswith(".json") else p for p in paths])


def _replace_prefix(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {k: _replace_prefix(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_prefix(v, old, new) for v in value]
    if isinstance(value, str) and (value == old or value.startswith(old + "/")):
        return new + value[len(old):]
    return value
