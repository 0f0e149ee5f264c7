"""Shared helpers of the ablation tests: sweep files over the tiny training recipe, a stand-in dataset
(manifest + data files, no media) and `FakeRunner`, a fast runner that writes what the real one writes
(recipe.yaml, summary.json, RUN/eval/<set>.json) with scores that are a known function of variant and seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mmbind.ablate import EvalOutcome
from mmbind.synth.manifest import write_manifest

ROOT = Path(__file__).resolve().parents[2]
TRAIN_RECIPE = ROOT / "mmbind" / "recipes" / "tiny" / "train.yaml"
SETS = {"image_open": ("open", "image"), "video_pope": ("pope", "video")}


def fake_dataset(root: Path) -> Path:
    """A folder that looks like a generated dataset to the sweep: manifest, tokenizer-less data files."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("pretrain.json", "finetune.json"):
        (root / name).write_text("[]\n", encoding="utf-8")
    sets = {name: {"file": f"eval/{name}.json", "kind": kind, "modality": modality, "samples": 4}
            for name, (kind, modality) in SETS.items()}
    write_manifest(root, {"eval_sets": sets})
    return root


def write_sweep(folder: Path, dataset: Path, **fields: Any) -> Path:
    """``folder/sweep.yaml``: the tiny training recipe on ``dataset``, variants a and b, seeds 0 and 1."""
    sweep: dict[str, Any] = {
        "name": "fake",
        "base": str(TRAIN_RECIPE),
        "seeds": [0, 1],
        "overrides": [
            f"data.datasets.pretrain.files=[{{path: {dataset / 'pretrain.json'}}}]",
            f"data.datasets.finetune.files=[{{path: {dataset / 'finetune.json'}}}]",
        ],
        "variants": {"a": {"label": "variant A"}, "b": {"overrides": ["stages.finetune.lr=1.0e-3"]}},
        "output": str(folder / "out"),
    }
    sweep.update(fields)
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False), encoding="utf-8")
    return path


def score(variant: str, seed: int, offset: float = 0.0) -> float:
    """The fake model's score: 0.5 for variant a, 0.7 for b, plus 0.1 per seed (plus ``offset``)."""
    return {"a": 0.5, "b": 0.7}.get(variant, 0.3) + 0.1 * seed + offset


class FakeRunner:
    """A runner that trains and evaluates nothing but leaves the real file layout behind."""

    def __init__(self, interrupt: tuple[tuple[str, int], ...] = (), fail: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.interrupt = set(interrupt)  # (variant, seed) runs whose first training is interrupted
        self.fail = fail  # any call is an error (for "nothing may run" checks)

    def _log(self, *call: Any) -> None:
        if self.fail:
            raise AssertionError(f"the runner was called: {call}")
        self.calls.append(call)

    def synth(self, out: Path, size: str, seed: int, world: str = "default") -> None:
        self._log("synth", str(out), size, seed, world)
        fake_dataset(out)

    def train(self, recipe: Any, run_dir: Path, resume: bool) -> dict[str, Any]:
        key = (run_dir.parent.name, int(run_dir.name.removeprefix("seed")))
        self._log("train", key, resume)
        assert (run_dir / "recipe.yaml").is_file() == resume  # as mmbind.train.train insists
        if not resume:
            run_dir.mkdir(parents=True)
            dump = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
            (run_dir / "recipe.yaml").write_text(dump, encoding="utf-8")
        status = "interrupted" if key in self.interrupt else "done"
        self.interrupt.discard(key)
        summary = {"status": status, "checkpoint": str(run_dir / "checkpoints" / "ckpt-s1-1")}
        (run_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        return summary

    def evaluate(self, run_dir: Path, spec: Any) -> EvalOutcome:
        variant, seed = run_dir.parent.name, int(run_dir.name.removeprefix("seed"))
        self._log("evaluate", (variant, seed), spec.limit)
        names = list(SETS) if spec.sets == "all" else spec.sets
        files = {}
        for name in names:
            value = score(variant, seed)
            if SETS[name][0] == "open":
                metrics = {"by_type": {"colour": {"accuracy": value, "correct": 1, "n": 2}},
                           "overall": {"accuracy": value, "correct": 1, "n": 2}}
            else:
                metrics = {"random": {"accuracy": value, "f1": 0.5},
                           "adversarial": {"accuracy": value - 0.2, "f1": 0.5}}
            files[name] = run_dir / "eval" / f"{name}.json"
            files[name].parent.mkdir(parents=True, exist_ok=True)
            files[name].write_text(json.dumps({"set": name, "kind": SETS[name][0], "metrics": metrics}))
        return EvalOutcome(files, [])
