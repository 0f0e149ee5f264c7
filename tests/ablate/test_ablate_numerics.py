"""A sweep reads each run's numerics fingerprint: runs of one numerics tabulate and compare as before; a
variant's run and the baseline's of another numerics are not paired (one error naming both) unless
``--allow-mixed-numerics``, and then the table says the numerics are mixed. Plus the environment
``--jobs`` gives each run's process."""

from __future__ import annotations

import json

import pytest

from mmbind.ablate import collect, load_plan, run_sweep
from mmbind.ablate.numerics_check import run_numerics
from mmbind.ablate.parallel import ParallelSweep, child_env
from mmbind.ablate.report import markdown
from mmbind.errors import NumericsError
from mmbind.numerics import MODE_ENV, fingerprint, fingerprint_id, record_run_numerics
from mmbind.recipe import load_recipe
from tests.support.ablate import TRAIN_RECIPE, FakeRunner, write_sweep
from tests.support.helpers import cli


@pytest.fixture
def swept(tmp_path):
    """A finished fake sweep (a, b x seeds 0, 1) whose runs all record this process's numerics."""
    data = tmp_path / "data"
    sweep = write_sweep(tmp_path, data, data={"synth": {"out": str(data), "size": "micro"}})
    run_sweep(sweep, runner=FakeRunner())
    for run in load_plan(sweep).runs:
        record_run_numerics(run.run_dir, fingerprint(), resume=False)
    return sweep


def other_machine(run_dir):
    fp = fingerprint()
    capability = "AVX2" if fp["cpu_capability"] != "AVX2" else "AVX512"
    other = {**fp, "cpu_capability": capability, "threads": {"intra_op": 7, "inter_op": 7}}
    record_run_numerics(run_dir, other, resume=False)


def test_one_numerics_compares_as_before(swept):
    table = collect(load_plan(swept))
    assert not table.mixed_numerics and table.comparisons
    assert len({n.id for seeds in table.numerics.values() for n in seeds.values()}) == 1
    assert "Mixed numerics" not in markdown(table)


def test_pairs_of_different_numerics_are_refused_naming_the_runs(swept, tmp_path):
    other_machine(tmp_path / "out" / "b" / "seed1")
    with pytest.raises(NumericsError) as caught:
        collect(load_plan(swept))
    message = str(caught.value)
    assert message.startswith("refusing to compare runs trained under different numerics: b/seed1 [")
    assert "with a/seed1 [" in message and "7 threads" in message and "--allow-mixed-numerics" in message
    assert "seed0" not in message  # the other pair is of one numerics


def test_allowed_mixed_numerics_compare_and_say_so(swept, tmp_path):
    other_machine(tmp_path / "out" / "b" / "seed1")
    table = collect(load_plan(swept), allow_mixed_numerics=True)
    assert table.mixed_numerics and table.comparisons
    assert "Mixed numerics: the runs were trained under 2 different numerics" in markdown(table)
    saved = table.to_json()
    assert saved["mixed_numerics"] and saved["numerics"]["b"]["1"] != saved["numerics"]["a"]["1"]


def test_mixed_seeds_of_one_variant_are_shown_but_still_compared(swept, tmp_path):
    for variant in ("a", "b"):  # seed 1 of both on the other machine: every pair is of one numerics
        other_machine(tmp_path / "out" / variant / "seed1")
    table = collect(load_plan(swept))
    assert table.mixed_numerics and table.comparisons


def test_cli_refuses_then_allows(swept, tmp_path, capsys):
    other_machine(tmp_path / "out" / "a" / "seed0")
    code, _, err = cli(capsys, "ablate", swept, "--report-only")
    assert code == 2 and "error: refusing to compare runs trained under different numerics: b/seed0" in err
    code, out, _ = cli(capsys, "ablate", swept, "--report-only", "--allow-mixed-numerics")
    assert code == 0 and "Mixed numerics" in " ".join(out.split())


def test_run_without_fingerprint_is_unknown_and_evaluation_numerics_count(tmp_path):
    assert run_numerics(tmp_path).id == "unknown"
    fp = fingerprint()
    record_run_numerics(tmp_path, fp, resume=False)
    (tmp_path / "ablate.json").write_text(json.dumps({"numerics": fp}))
    assert run_numerics(tmp_path).id == fingerprint_id(fp)
    other = {**fp, "threads": {"intra_op": 9, "inter_op": 9}}
    (tmp_path / "ablate.json").write_text(json.dumps({"numerics": other}))
    found = run_numerics(tmp_path)
    assert found.id == f"{fingerprint_id(fp)}+eval:{fingerprint_id(other)}"
    assert "evaluated under" in found.text


def test_jobs_split_the_cores_and_pin_reproducible_runs(monkeypatch):
    from mmbind.ablate.plan import RunPlan

    monkeypatch.setenv(MODE_ENV, "reproducible threads=1")  # a pinned parent: default-mode children drop it
    default = RunPlan("a", 0, load_recipe(TRAIN_RECIPE), None, "new")  # type: ignore[arg-type]
    recipe = load_recipe(TRAIN_RECIPE, ["numerics.reproducible=true", "numerics.threads=2"])
    pinned = RunPlan("a", 0, recipe, None, "new")  # type: ignore[arg-type]
    sweep = ParallelSweep(3, print, cores=8)
    assert sweep.threads == 2
    env = child_env(default, sweep.threads)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "2" and MODE_ENV not in env
    env = child_env(pinned, sweep.threads)
    assert env[MODE_ENV] == "reproducible threads=2" and env["ATEN_CPU_CAPABILITY"] == "default"
    assert ParallelSweep(4, print, cores=2).threads == 1


def test_a_child_that_only_evaluates_records_the_numerics_its_training_had(tmp_path):
    # a run shared from another sweep is only evaluated in its child: the pinned mode's torch settings
    # (deterministic algorithms, inter-op threads) must hold there too, or its fingerprint differs from the
    # training's and the sweep refuses to compare it
    import os
    import subprocess
    import sys

    from mmbind.numerics import pinned_env

    script = f"""
import json, torch
from pathlib import Path
from mmbind.ablate import EvalOutcome, child
from mmbind.ablate.runner import LocalRunner
LocalRunner.evaluate = lambda self, run_dir, spec: EvalOutcome({{}}, [])
child.run_job({{"run_dir": {str(tmp_path)!r}, "status": "evaluate", "eval": {{}}, "eval_request": {{}}}})
print(json.dumps(json.loads((Path({str(tmp_path)!r}) / "ablate.json").read_text())["numerics"]))
"""
    env = {**os.environ, **pinned_env(1)}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    recorded = json.loads(out.stdout.strip().splitlines()[-1])
    assert recorded["mode"] == "reproducible" and recorded["deterministic"]
    assert recorded["threads"] == {"intra_op": 1, "inter_op": 1}
