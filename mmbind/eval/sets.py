"""sets.py

The study's evaluation sets: the held-out sets a generated dataset lists in its ``manifest.json``
(`mmbind.dataset_manifest`), each loaded through the ``synth_set`` benchmark (a first-party plugin, like
every benchmark). `find_data_dir` finds the dataset of a run from its recipe's data files; `usable_sets`
keeps the sets a model has the encoders for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mmbind.dataset_manifest import MANIFEST, dataset_dir, eval_set_entries
from mmbind.errors import DataError, InputError
from mmbind.eval.catalog import load_benchmark
from mmbind.inference.target import Target
from mmbind.interfaces.benchmark import EvalSet

STUDY_BENCHMARK = "synth_set"  # the benchmark that reads one of the dataset's set files


def load_set(data_dir: Path, name: str) -> EvalSet:
    """The set ``name`` of the dataset in ``data_dir``."""
    return select_sets(data_dir, [name])[0]


def select_sets(data_dir: Path, names: Sequence[str] | None) -> list[EvalSet]:
    """The named sets (all when ``names`` is empty), unknown names reported before anything loads; the
    manifest is read once."""
    known = eval_set_entries(data_dir)
    for name in names or ():
        if name not in known:
            raise DataError(f"unknown eval set {name!r} in {data_dir} (known: {', '.join(known) or 'none'})")
    out = []
    for name in names or list(known):
        entry = known[name]
        file = data_dir / entry["file"]
        if not file.is_file():
            raise DataError(f"{file}: eval set {name!r} is listed in the manifest but the file is missing")
        options = {"name": name, "kind": str(entry["kind"]), "modality": str(entry["modality"])}
        out.append(load_benchmark(STUDY_BENCHMARK, file, options))
    return out


def usable_sets(
    sets: Sequence[EvalSet], modalities: Sequence[str], explicit: bool
) -> tuple[list[EvalSet], list[EvalSet]]:
    """(sets the model can answer, sets skipped because it has no encoder for their modality). A set named
    explicitly whose modality the model lacks is still answered from the media it has an encoder for (an
    image-only model on questions about an image and its depth map: the baseline), if any; otherwise
    `InputError`."""

    def answerable(s: EvalSet) -> bool:
        if s.modality in modalities:
            return True
        return explicit and any(m in modalities for item in s.items for m, _ in item.items())

    usable = [s for s in sets if answerable(s)]
    skipped = [s for s in sets if not answerable(s)]
    if explicit and skipped:
        first = skipped[0]
        raise InputError(
            f"eval set {first.name!r} needs a {first.modality} encoder; "
            f"this model has: {', '.join(modalities)}"
        )
    return usable, skipped


def find_data_dir(target: Target, explicit: str | Path | None = None) -> Path:
    """The synthetic dataset: ``explicit``, else the folder of the run's data files holding the manifest."""
    if explicit is not None:
        data = Path(explicit)
        if not (data / MANIFEST).is_file():
            raise DataError(
                f"{data}: not a generated dataset ({MANIFEST} is missing; see `mmbind data synth`)"
            )
        return data
    datasets = ((target.recipe or {}).get("data") or {}).get("datasets") or {}
    found = dataset_dir(file["path"] for dataset in datasets.values() for file in dataset.get("files") or [])
    if found is not None:
        return found
    where = "its run's recipe names" if target.recipe else "it belongs to no run and"
    raise DataError(
        f"{target.model_dir}: no evaluation data found ({where} no generated dataset); pass --data DIR"
    )
