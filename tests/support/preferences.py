"""Preference pairs on the tiny synthetic dataset (`mmbind.synth.tiny`), in both layouts `kind: dpo` reads,
and the tiny training recipe with its second stage turned into a dpo stage."""

from __future__ import annotations

import json
import random
from pathlib import Path

from mmbind.recipe.schema import Recipe
from tests.support.train import tiny_train_recipe

COLOURS = ("red", "green", "blue", "yellow")


def make_preferences(data: Path, name: str = "preferences.json", ranking: bool = False,
                     extra: list | None = None, seed: int = 0) -> Path:
    """Pairs about the tiny dataset's media (the right colour / direction chosen, a wrong one rejected)
    and text-only sums, written to ``data/name`` (LLaVA style, or LLaMA-Factory's ranking layout)."""
    rng = random.Random(seed)
    pairs = []
    for sample in json.loads((data / "finetune.json").read_text(encoding="utf-8")):
        turns = sample["conversations"]
        right = turns[1]["value"]
        if "image" in sample or "video" in sample:
            word = next(w for w in ("red", "green", "blue", "yellow", "left", "right") if w in right)
            options = ("left", "right") if word in ("left", "right") else COLOURS
            wrong = right.replace(word, rng.choice([o for o in options if o != word]))
        else:
            number = int(right.removeprefix("It is ").rstrip("."))
            wrong = f"It is {(number + rng.randint(1, 5)) % 20}."
        media = {k: sample[k] for k in ("image", "video") if k in sample}
        if ranking:
            media = {f"{k}s": [v] for k, v in media.items()}
            pairs.append({"conversations": [turns[0]], "chosen": {"from": "gpt", "value": right},
                          "rejected": {"from": "gpt", "value": wrong}, **media})
        else:
            pairs.append({"id": f"pair-{sample['id']}", **media, "conversations": [turns[0]], "chosen": right,
                          "rejected": wrong})
    pairs += extra or []
    path = data / name
    path.write_text(json.dumps(pairs, indent=1), encoding="utf-8")
    return path


def dpo_recipe(data: Path, pairs: Path, *overrides: str, options: str = "{beta: 0.1}") -> Recipe:
    """The tiny two-stage recipe: stage 1 as it is, stage 2 a dpo stage on ``pairs``."""
    return tiny_train_recipe(data, *DPO_STAGE(pairs, options), *overrides)


def DPO_STAGE(pairs: Path, options: str = "{beta: 0.1}") -> list[str]:  # noqa: N802 -- reads like a constant
    """Overrides turning the tiny recipe's finetune stage into a dpo stage on ``pairs``."""
    return [f"data.datasets.finetune.files=[{{path: {pairs}}}]", "stages.finetune.kind=dpo",
            f"stages.finetune.options={options}", "stages.finetune.group_by_modality_length=false"]
