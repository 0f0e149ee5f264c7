"""Runs whose resolved recipe and seed are identical are shared across sweeps: a second sweep with the
same variants trains nothing, links the first sweep's weights and evaluates in its own folders."""

from __future__ import annotations

from mmbind.ablate import run_sweep
from tests.support.ablate import FakeRunner, write_sweep

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
