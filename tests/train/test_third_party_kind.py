"""A third party's stage kind: a package with its own ``mmbind`` entry point
(`tests/support/third_party_kind`) installed into a throw-away environment layered on this one, then
trained with ``mmbind train`` there: its options validated like a part's, its loss module run by the one
trainer."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.train import TRAIN_RECIPE, data_overrides, make_data

PACKAGE = Path(__file__).resolve().parents[1] / "support" / "third_party_kind"
CHECKOUT = Path(__file__).resolve().parents[2]
STAGE = ["stages.pretrain.max_steps=1", "stages.finetune.max_steps=2", "stages.finetune.kind=scaled_lm",
         "stages.finetune.global_batch=2", "stages.finetune.per_device_batch=2"]


def _environment(root: Path) -> Path:
    """A venv whose site-packages reads this interpreter's (a .pth file), with mmbind (editable: the .pth
    files of the parent's site-packages, mmbind's editable finder among them, are not run in a child venv) and
    the plugin package installed; returns its python."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "parent_env.pth").write_text(site.getsitepackages()[0] + "\n")
    source = root / "package"
    shutil.copytree(PACKAGE, source)
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
           "--no-build-isolation", "--no-index"]
    subprocess.run([*pip, "-e", str(CHECKOUT)], check=True, capture_output=True)
    subprocess.run([*pip, str(source)], check=True, capture_output=True)
    return python


@pytest.mark.slow
def test_a_third_party_stage_kind_installs_and_trains(tmp_path):
    python = _environment(tmp_path)
    data = make_data(tmp_path / "data", images=2, videos=2, text_only=2)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env |= {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [str(python), "-m", "mmbind", "train", str(TRAIN_RECIPE), *data_overrides(data), *STAGE]

    bad = subprocess.run([*command, "stages.finetune.options={scale: 2.0, beta: 0.1}", "--output",
                          str(tmp_path / "bad")], env=env, capture_output=True, text=True)
    assert bad.returncode == 2
    assert "'beta' is an option of kind dpo, not of kind scaled_lm" in " ".join(bad.stderr.split())

    run = tmp_path / "run"
    done = subprocess.run([*command, "stages.finetune.options={scale: 3.0}", "--output", str(run),
                           "--no-progress"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stages"]["finetune"]["kind"] == "scaled_lm"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    finetune = [r for r in records if r["stage"] == "finetune"]
    assert [r["scale"] for r in finetune] == [3.0, 3.0] and all(r["kind"] == "scaled_lm" for r in finetune)
    assert (run / "stages" / "finetune" / "model.safetensors").is_file()
    # the package is not installed here: in this interpreter the kind is unknown
    assert subprocess.run([sys.executable, "-c", "import mmbind_scaled_lm"], capture_output=True).returncode
