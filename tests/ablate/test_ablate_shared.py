"""Runs whose resolved recipe and seed are identical are shared across sweeps: a second sweep with the
same variants trains nothing, links the first sweep's weights and evaluates in its own folders. A run that
begins with the stages another run trained shares those stages and trains the rest, to the same bits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from mmbind.ablate import run_sweep
from mmbind.ablate.shared import prefix_key, recipe_key, register, share_training
from mmbind.train import train
from tests.support.ablate import FakeRunner, write_sweep
from tests.support.helpers import bit_identical
from tests.support.train import logged_losses, make_data, tiny_train_recipe

NAMES = ["a/seed0", "a/seed1", "b/seed0", "b/seed1"]


def test_second_sweep_shares_training(tmp_path, monkeypatch):
    monkeypatch.setenv("MMBIND_RUN_STORE", str(tmp_path / "store"))
    data = tmp_path / "data"
    sweep = write_sweep(tmp_path, data, data={"synth": {"out": str(data), "size": "micro", "seed": 4}})
    first = run_sweep(sweep, output=tmp_path / "one", runner=FakeRunner())
    assert first.outcome.trained == NAMES
    for name in NAMES:  # the fake runner writes no weights; a real run has its stages here
        (tmp_path / "one" / name / "stages" / "finetune").mkdir(parents=True)
    runner = FakeRunner()
    second = run_sweep(sweep, output=tmp_path / "two", runner=runner)
    assert second.outcome.trained == [] and second.outcome.shared == NAMES
    assert [c[0] for c in runner.calls if c[0] != "synth"] == ["evaluate"] * 4
    run = tmp_path / "two" / "a" / "seed1"
    assert (run / "stages").is_symlink() and (run / "stages").resolve() == (tmp_path / "one" / "a" / "seed1"
                                                                            / "stages").resolve()
    assert (run / "ablate.json").is_file() and not (tmp_path / "one" / "a" / "seed1" / "eval").is_symlink()
    assert second.table.cell("a", "image_open.overall.accuracy").values == \
        first.table.cell("a", "image_open.overall.accuracy").values
    third = run_sweep(sweep, output=tmp_path / "two", runner=FakeRunner(fail=True))
    assert third.outcome.skipped == NAMES  # already evaluated: nothing runs


def _trained_stages(run: Path, stages: list[str], extra: str = "junk") -> None:
    """What a real run leaves of its stages: their folders and their records in metrics.jsonl (and a
    record of a stage it does not have, which must not travel)."""
    for name in stages:
        (run / "stages" / name).mkdir(parents=True)
        (run / "stages" / name / "model.safetensors").write_bytes(name.encode())
    records = [{"stage": name, "stage_index": i, "step": 1, "loss": 1.0 + i} for i, name in enumerate(stages)]
    records.append({"stage": extra, "stage_index": 9, "step": 1, "loss": 9.0})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_a_run_that_begins_with_stages_another_run_trained_shares_those_stages(tmp_path, monkeypatch):
    monkeypatch.setenv("MMBIND_RUN_STORE", str(tmp_path / "store"))
    data = tmp_path / "data"
    synth = {"synth": {"out": str(data), "size": "micro", "seed": 4}}
    run_sweep(write_sweep(tmp_path, data, data=synth), output=tmp_path / "one", runner=FakeRunner())
    for name in NAMES:
        _trained_stages(tmp_path / "one" / name, ["pretrain", "finetune"])
    # a sweep of its own name, with a third stage on a dataset of its own: variant a begins as the first
    # sweep's a did; c changes the first stage, so it has nothing to share
    (tmp_path / "two").mkdir()
    sweep = write_sweep(tmp_path / "two", data, data=synth, name="longer",
                        output=str(tmp_path / "two" / "out"),
                        variants={"a": {}, "c": {"overrides": ["stages.pretrain.lr=5.0e-4"]}})
    added = ("overrides:\n- 'stages.more={kind: lm, dataset: more}'\n"
             f"- 'data.datasets.more.files=[{{path: {data / 'finetune.json'}}}]'\n")
    text = sweep.read_text().replace("overrides:\n", added, 1)
    sweep.write_text(text)
    runner = FakeRunner()
    second = run_sweep(sweep, runner=runner)
    assert second.outcome.shared_stages == ["a/seed0", "a/seed1"] and second.outcome.shared == []
    assert second.outcome.trained == ["c/seed0", "c/seed1"]
    assert second.outcome.resumed == ["a/seed0", "a/seed1"]
    assert [c[1:] for c in runner.calls if c[0] == "train"] == [
        (("a", 0), True), (("a", 1), True), (("c", 0), False), (("c", 1), False)]
    run = tmp_path / "two" / "out" / "a" / "seed1"
    for stage in ("pretrain", "finetune"):
        source = tmp_path / "one" / "a" / "seed1" / "stages" / stage
        assert (run / "stages" / stage).resolve() == source.resolve()
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["loss"]) for r in logged] == [("pretrain", 1.0), ("finetune", 2.0)]
    stored = yaml.safe_load((run / "recipe.yaml").read_text())
    assert list(stored["stages"]) == ["pretrain", "finetune", "more"] and (run / "recipe.lock.json").is_file()


def test_the_prefix_key_holds_what_the_stages_compute_from_and_nothing_else(tmp_path):
    data = tmp_path / "data"
    base = tiny_train_recipe(data)
    unused = f"data.datasets.unused.files=[{{path: {data / 'x.json'}}}]"
    renamed = tiny_train_recipe(data, "name=other", unused)
    finetune = tiny_train_recipe(data, "stages.finetune.lr=1.0e-3")
    numerics = tiny_train_recipe(data, "numerics.reproducible=true")
    assert prefix_key(base, 2) == prefix_key(renamed, 2) and recipe_key(base) != recipe_key(renamed)
    assert prefix_key(base, 1) == prefix_key(finetune, 1) and prefix_key(base, 2) != prefix_key(finetune, 2)
    assert prefix_key(base, 1) != prefix_key(numerics, 1) and prefix_key(base, 1) != prefix_key(base, 2)


@pytest.mark.slow
def test_training_after_shared_stages_gives_the_bits_of_training_every_stage(tmp_path):
    data = make_data(tmp_path / "data")
    steps = ["stages.pretrain.max_steps=2", "stages.finetune.max_steps=2"]
    more = ["name=longer", "stages.more={kind: lm, dataset: finetune, max_steps: 2, train: [projector, llm]}"]
    store = tmp_path / "store"
    train(tiny_train_recipe(data, *steps), tmp_path / "two_stages", progress=False)
    register(store, tiny_train_recipe(data, *steps), tmp_path / "two_stages")
    longer = tiny_train_recipe(data, *steps, *more)
    assert share_training(store, longer, tmp_path / "shared")[0] == "resume"
    assert train(longer, tmp_path / "shared", resume=True, progress=False)["status"] == "done"
    train(longer, tmp_path / "whole", progress=False)
    for stage in ("pretrain", "finetune", "more"):  # tensors, by name: the header's metadata order varies
        shared, whole = (load_file(tmp_path / r / "stages" / stage / "model.safetensors")
                         for r in ("shared", "whole"))
        assert bit_identical(shared, whole), stage
    assert logged_losses(tmp_path / "shared") == logged_losses(tmp_path / "whole")
    assert len(logged_losses(tmp_path / "whole")) == 6


def test_with_jobs_a_run_waits_for_a_running_one_that_trains_its_first_stages(tmp_path):
    from types import SimpleNamespace

    from mmbind.ablate.execute import SweepOutcome
    from mmbind.ablate.parallel import ParallelSweep
    from mmbind.ablate.plan import RunPlan

    data = tmp_path / "data"
    running = RunPlan("sft", 0, tiny_train_recipe(data), tmp_path / "sft", "new")
    longer = tiny_train_recipe(data, "stages.more={kind: lm, dataset: finetune}")
    seed1 = tiny_train_recipe(data, "model.seed=1", "stages.pretrain.seed=1")
    same_start, other = RunPlan("dpo", 0, longer, tmp_path / "dpo", "new"), RunPlan("sft", 1, seed1,
                                                                                     tmp_path / "sft1", "new")
    said: list[str] = []
    sweep = ParallelSweep(2, said.append, cores=2)
    children = [SimpleNamespace(run=running, trained=True)]
    queue = [same_start, other]
    picked = sweep._next(queue, children, tmp_path / "store", {id(same_start): 2, id(other): 3}, 3,
                         SweepOutcome())
    assert picked is other and queue == [same_start] and not said
    assert sweep._next(queue, [], tmp_path / "store", {id(same_start): 2}, 3, SweepOutcome()) is same_start
