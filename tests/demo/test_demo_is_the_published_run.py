"""`mmbind demo` trains the run whose figures the study page shows as seed 0: its recipe is the alignment
sweep's united seed-0 recipe in every setting but the paths of the data and the feature cache (which move
into the demo folder), and both are in the reproducible numerics mode, so on any x86-64 machine the demo
prints the published seed-0 figures (docs/study.md, "Reproducibility")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmbind.ablate.state import recipe_dump
from mmbind.ablate.sweep import load_plan
from mmbind.demo.study import StudyPaths, study_recipe

ROOT = Path(__file__).resolve().parents[2]
PATHS = {"model.llm.options.tokenizer", "data.datasets.pretrain.files", "data.datasets.finetune.files",
         "data.feature_cache.dir"}


def _differences(a: Any, b: Any, path: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        return {d for key in set(a) | set(b) for d in _differences(a.get(key), b.get(key), f"{path}.{key}")}
    return set() if a == b else {path.lstrip(".")}


def test_the_demo_trains_the_published_seed_0_run(tmp_path):
    demo = recipe_dump(study_recipe("tiny/study", StudyPaths(tmp_path / "demo"), []))
    plan = load_plan(ROOT / "mmbind" / "recipes" / "ablations" / "alignment.yaml", output=tmp_path / "sweep",
                     fresh=True)
    published = next(r for r in plan.runs if (r.variant, r.seed) == ("united", 0))
    assert _differences(demo, recipe_dump(published.recipe)) == PATHS
    assert demo["numerics"] == {"reproducible": True, "threads": 1}
    assert [r.recipe.numerics.reproducible for r in plan.runs] == [True] * len(plan.runs)
