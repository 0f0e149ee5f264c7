"""plan.py

Resolving a sweep before anything runs: every variant's recipe is loaded with its overrides and each seed
(``model.seed=K`` and ``stages.<name>.seed=K`` for every stage), so a missing recipe, a bad override or a
recipe that cannot train is one `SweepError` naming the variant, and nothing has been trained yet. Each
(variant, seed) gets its folder ``OUTPUT/<variant>/seed<K>/`` and its status (see `state.py`).
`check_data` repeats the check for the data once it has been prepared: every dataset file exists and the
eval sets named by the sweep are in the dataset.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mmbind.ablate.schema import MetricSpec, Sweep
from mmbind.ablate.state import run_status
from mmbind.dataset_manifest import MANIFEST, dataset_dir, eval_set_entries
from mmbind.errors import MmbindError, RecipeError, SweepError
from mmbind.recipe.loader import load_recipe
from mmbind.recipe.schema import Recipe
from mmbind.registry import Registry

_OPEN_SCORES = ("accuracy", "correct", "n")
_POPE_SCORES = ("accuracy", "precision", "recall", "f1", "yes_ratio", "tp", "fp", "tn", "fn", "n")
METRIC_SHAPES: dict[str, tuple[tuple[tuple[str, ...] | None, ...], ...]] = {  # as mmbind.eval.metrics writes
    "open": ((("overall",), _OPEN_SCORES), (("by_type",), None, _OPEN_SCORES)),  # None: any name, or *
    "pope": ((None, _POPE_SCORES),),  # <split>.<score>
}


@dataclass
class RunPlan:
    """One training + evaluation run of the sweep."""

    variant: str  # variant key
    seed: int  # the seed applied to the model and every stage
    recipe: Recipe  # the resolved recipe
    run_dir: Path  # OUTPUT/<variant>/seed<seed>
    status: str  # new, resume, evaluate or done (see state.py)

    @property
    def name(self) -> str:
        """``variant/seed<K>``, as progress lines show it."""
        return f"{self.variant}/seed{self.seed}"


@dataclass
class SweepPlan:
    """A validated sweep, ready to run."""

    sweep: Sweep  # the sweep file's content
    source: Path  # the sweep file
    output: Path  # the sweep folder
    labels: dict[str, str]  # variant key -> label, in the sweep's order
    runs: list[RunPlan]  # variant-major, seeds in order
    metrics: list[MetricSpec] | None  # what to tabulate (None: chosen from the results)

    @property
    def eval_request(self) -> dict[str, object]:
        """The eval settings, as recorded in each run's marker."""
        return self.sweep.eval.model_dump(mode="json")


def seed_overrides(recipe: Recipe, seed: int) -> list[str]:
    """Overrides that apply ``seed`` to the model's initialisation and to every stage."""
    return [f"model.seed={seed}", *(f"stages.{name}.seed={seed}" for name in recipe.stages or {})]


def _variant_recipes(
    sweep: Sweep, source: Path, name: str, extra: list[str], registry: Registry | None
) -> list[Recipe]:
    variant = sweep.variants[name]
    path = Path(os.path.normpath(source.parent / (variant.recipe or sweep.base)))
    overrides = [*sweep.overrides, *extra, *variant.overrides]
    recipe = load_recipe(path, overrides, registry)
    if recipe.data is None or not recipe.stages:
        raise RecipeError(f"{path}: the recipe cannot train (it needs 'data:' and 'stages:' sections)")
    return [load_recipe(path, [*overrides, *seed_overrides(recipe, seed)], registry) for seed in sweep.seeds]


def plan_sweep(
    sweep: Sweep, source: str | Path, output: str | Path | None = None, overrides: Iterable[str] = (),
    registry: Registry | None = None, fresh: bool = False,
) -> SweepPlan:
    """Resolve every (variant, seed); ``overrides`` (from the command line) apply to every variant;
    ``fresh``: every run is new, its folder unread."""
    source = Path(source)
    out = Path(output) if output is not None else sweep.output_dir()
    runs, request = [], sweep.eval.model_dump(mode="json")
    for name in sweep.variants:
        try:
            recipes = _variant_recipes(sweep, source, name, list(overrides), registry)
        except MmbindError as exc:
            raise SweepError(f"{source}: variant {name!r}: {exc}") from None
        for seed, recipe in zip(sweep.seeds, recipes):
            run_dir = out / name / f"seed{seed}"
            status = "new" if fresh else run_status(run_dir, recipe, request, f"variant {name!r} seed {seed}")
            runs.append(RunPlan(name, seed, recipe, run_dir, status))
    labels = {name: spec.label or name for name, spec in sweep.variants.items()}
    return SweepPlan(sweep, source, out, labels, runs, sweep.metrics)


def check_data(plan: SweepPlan) -> None:
    """After data preparation, before training: data files exist and named eval sets are known."""
    names = plan.sweep.eval.sets
    pending: dict[str, RunPlan] = {}
    for run in plan.runs:
        if run.status != "done":
            pending.setdefault(run.variant, run)  # the seeds of a variant share its data
    for run in pending.values():
        who = f"{plan.source}: variant {run.variant!r}"
        assert run.recipe.data is not None
        for key, dataset in run.recipe.data.datasets.items():
            for file in dataset.files:
                if file.path is not None and not Path(file.path).is_file():
                    raise SweepError(f"{who}: data.datasets.{key}: {file.path}: dataset file not found")
        folder = dataset_dir(f.path for d in run.recipe.data.datasets.values() for f in d.files if f.path)
        if folder is None:
            raise SweepError(f"{who}: its data files are in no generated dataset (no {MANIFEST} above them), "
                             "so there is nothing to evaluate on; see `mmbind data synth`")
        known = eval_set_entries(folder)
        for name in (n for n in (names if names != "all" else []) if n not in known):
            raise SweepError(f"{plan.source}: eval.sets: unknown eval set {name!r} in {folder} "
                             f"(known: {', '.join(known) or 'none'})")
        asked = known if names == "all" else {n: known[n] for n in names}
        check_metrics(plan, {n: str(entry.get("kind")) for n, entry in asked.items()})


def _fits(path: list[str], shape: tuple[tuple[str, ...] | None, ...]) -> bool:
    return len(path) == len(shape) and all(a is None or part in a for part, a in zip(path, shape))


def _shape_text(shape: tuple[tuple[str, ...] | None, ...]) -> str:
    return ".".join("<name|*>" if a is None else "|".join(a) for a in shape)


def check_metrics(plan: SweepPlan, kinds: dict[str, str]) -> None:
    """Each metric names an evaluated set (``kinds``: set -> open|pope) and a path its results have."""
    for metric in plan.metrics or []:
        where = f"{plan.source}: metrics: {metric.key}"
        kind = kinds.get(metric.set_name)
        if kind is None:
            raise SweepError(f"{where}: {metric.set_name!r} is not among the evaluated sets "
                             f"({', '.join(kinds) or 'none'})")
        shapes = METRIC_SHAPES.get(kind, ())
        if shapes and not any(_fits(metric.path, shape) for shape in shapes):
            expected = " or ".join(f"{metric.set_name}.{_shape_text(shape)}" for shape in shapes)
            raise SweepError(f"{where}: not a score of {metric.set_name} ({kind} set; expected {expected})")
