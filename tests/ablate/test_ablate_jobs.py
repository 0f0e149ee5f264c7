"""``mmbind ablate --jobs 2 --reproducible`` on a tiny sweep (2 variants x 1 seed, real training and
evaluation) gives the same bits as the same sweep run one by one in one process: logged losses, final
weights and every answer of the evaluation; each run's output went to its log, and the table is not mixed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.helpers import bit_identical, run_command
from tests.support.numerics import final_weights, machine_env
from tests.support.train import logged_losses

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = ("a", "b")


def write_sweep(folder: Path, data: Path) -> Path:
    sweep = {
        "name": "jobs", "base": str(ROOT / "mmbind" / "recipes" / "tiny" / "train.yaml"), "seeds": [0],
        "overrides": [
            f"model.llm.options.tokenizer={data / 'tokenizer'}",
            f"data.datasets.pretrain.files=[{{path: {data / 'pretrain.json'}}}]",
            f"data.datasets.finetune.files=[{{path: {data / 'finetune.json'}}}]",
            "data.feature_cache.enabled=false", "stages.pretrain.max_steps=2", "stages.finetune.max_steps=3",
        ],
        "variants": {"a": {}, "b": {"overrides": ["stages.finetune.lr=1.0e-3"]}},
        "eval": {"sets": ["image_open", "video_open"], "limit": 4, "max_new_tokens": 4, "batch_size": 8},
        "output": str(folder / "out"),
    }
    folder.mkdir(parents=True)
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


def answers(run: Path) -> list[list]:
    return [[row["id"], row["answer"]] for name in ("image_open", "video_open")
            for row in json.loads((run / "eval" / f"{name}.json").read_text())["predictions"]]


@pytest.mark.slow
def test_two_jobs_give_the_bits_of_one_by_one(micro, tmp_path):
    env = machine_env({})
    outs = {}
    for name, jobs in (("one_by_one", []), ("jobs2", ["--jobs", "2"])):  # separate folders: no shared runs
        sweep = write_sweep(tmp_path / name, micro)
        proc = run_command([sys.executable, "-m", "mmbind", "ablate", str(sweep), "--reproducible",
                            "--no-progress", *jobs], cwd=tmp_path, env=env)
        outs[name] = (tmp_path / name / "out", proc.stderr)
    (one, _), (two, progress) = outs["one_by_one"], outs["jobs2"]
    for variant in VARIANTS:
        a, b = one / variant / "seed0", two / variant / "seed0"
        assert logged_losses(a) == logged_losses(b) and len(logged_losses(a)) == 5
        assert bit_identical(final_weights(a), final_weights(b))
        assert answers(a) == answers(b)
        assert json.loads((b / "numerics.json").read_text())["fingerprint"]["mode"] == "reproducible"
        assert (b / "ablate.log").is_file() and not (a / "ablate.log").exists()
    lines = [line for line in progress.splitlines() if "/seed0" in line]
    assert sum(" done in " in line for line in lines) == 2
    # the second variant begins with the first one's stages: it waits for them, shares them, trains the rest
    assert sum(" training (" in line or " resuming (" in line for line in lines) == 2
    assert not json.loads((two / "results.json").read_text())["mixed_numerics"]


@pytest.mark.slow
def test_a_failing_run_stops_the_sweep_naming_it_and_its_log(tmp_path, capsys):
    from mmbind.cli.main import main
    from tests.support.ablate import fake_dataset
    from tests.support.ablate import write_sweep as fake_sweep

    sweep = fake_sweep(tmp_path, fake_dataset(tmp_path / "data"), seeds=[0], variants={"a": {}})  # no samples
    code = main(["ablate", str(sweep), "--jobs", "2", "--no-progress"])
    err = " ".join(capsys.readouterr().err.split())
    log = tmp_path / "out" / "a" / "seed0" / "ablate.log"
    assert code == 2 and "error: a/seed0 failed (exit status " in err and f"its output is in {log}): " in err
    assert log.read_text().strip().splitlines()[-1].split()[-1] in err  # the log's last words are shown
