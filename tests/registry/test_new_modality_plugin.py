"""A third-party package adds a whole new modality, mmbind unchanged: examples/mmbind-example-encoder
contributes the ``signal`` media loader (1-D sensor signals from CSV / NPY files) and the ``signal_patch``
encoder. The package is pip-installed into a throw-away environment (layered over this one, as `make lmms`
does) and trained for a few steps with ``mmbind train`` on LLaVA-format samples carrying
``"signal": "traces/N.csv"`` and ``<signal>`` tags; a sample whose file is not a signal is skipped and
reported by id; the run's model then answers a question about a signal through `mmbind infer`.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import sys
import venv
from pathlib import Path

import pytest
import yaml

from mmbind.data.toy_tokenizer import build_tokenizer
from tests.support.helpers import run_command as run

CHECKOUT = Path(__file__).resolve().parents[2]
EXAMPLE = CHECKOUT / "examples" / "mmbind-example-encoder"
QUESTION = "Is the signal rising or falling?"




@pytest.fixture(scope="module")
def env_bin(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh venv seeing this environment's packages, with mmbind (editable) and the example installed."""
    tmp = tmp_path_factory.mktemp("plugin-env")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["HF_HUB_OFFLINE"] = "1"
    venv.EnvBuilder(with_pip=False).create(tmp / "venv")
    python = tmp / "venv" / "bin" / "python"
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp, env)
    Path(purelib.stdout.strip(), "parent_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
           "--no-build-isolation", "--no-index"]
    run([*pip, "-e", str(CHECKOUT)], tmp, env)
    source = tmp / "example"  # built from a copy: setuptools writes build/ next to the sources
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    run([*pip, str(source)], tmp, env)
    return python.parent, env


def write_data(root: Path) -> Path:
    """Rising and falling signals (noisy ramps) with questions about them, one file that is no signal."""
    import numpy as np

    rng = np.random.default_rng(0)
    (root / "traces").mkdir(parents=True)
    samples = []
    for i in range(16):
        direction = "rising" if i % 2 == 0 else "falling"
        ramp = np.linspace(0, 1, 40 + i) * (1 if direction == "rising" else -1)
        values = ramp + 0.05 * rng.standard_normal(len(ramp))
        (root / "traces" / f"{i}.csv").write_text("\n".join(f"{v:.4f},{i}" for v in values))
        samples.append({"id": f"s{i}", "signal": f"traces/{i}.csv", "conversations": [
            {"from": "human", "value": f"<signal>\n{QUESTION}"}, {"from": "gpt", "value": direction}]})
    (root / "traces" / "broken.csv").write_text("not,a\nsignal,at all\n")
    samples.append({"id": "broken", "signal": "traces/broken.csv", "conversations": [
        {"from": "human", "value": f"<signal>\n{QUESTION}"}, {"from": "gpt", "value": "rising"}]})
    (root / "train.json").write_text(json.dumps(samples))
    build_tokenizer([QUESTION, "rising falling", "USER: ASSISTANT:"], root / "tokenizer", "wordlevel", 64)
    return root


def recipe(root: Path) -> Path:
    stage = {"train": ["projector", "llm"], "lr": 3e-3, "max_steps": 4, "global_batch": 8,
             "per_device_batch": 8, "max_length": 64, "save_every_steps": 100}
    spec = {
        "name": "signal-example",
        "model": {
            "seed": 0,
            "encoders": {"signal": {"plugin": "signal_patch", "options": {"length": 32, "patch": 8}}},
            "projector": {"plugin": "mlp2x_gelu"},
            "llm": {"plugin": "hf_causal", "options": {
                "tokenizer": str(root / "tokenizer"),
                "config": {"model_type": "llama", "vocab_size": 128, "hidden_size": 32,
                           "intermediate_size": 64,
                           "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
                           "max_position_embeddings": 128}}},
        },
        "data": {"media": {"signal": {"column": 0}},
                 "datasets": {"finetune": {"files": [{"path": str(root / "train.json")}]}}},
        "stages": {"finetune": stage},
    }
    path = root / "signal.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.slow
def test_a_new_modality_trains_and_answers_from_its_own_package(env_bin, tmp_path):
    bin_dir, env = env_bin
    root = write_data(tmp_path / "data")
    plugins = json.loads(run([str(bin_dir / "mmbind"), "plugins", "--json"], tmp_path, env).stdout)
    found = {(p["kind"], p["name"]): p for p in plugins}
    assert found[("loader", "signal")]["source"] == "mmbind-example-encoder"
    assert found[("encoder", "signal_patch")]["status"] == "ok"

    trained = run([str(bin_dir / "mmbind"), "train", str(recipe(root)), "--output", str(tmp_path / "run"),
                   "--no-progress"], tmp_path, env)
    metrics = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    steps = [m for m in metrics if "loss" in m and "step" in m]
    assert [m["step"] for m in steps] == [1, 2, 3, 4] and all(m["loss"] > 0 for m in steps)
    assert steps[0]["samples"] == 7  # the broken sample dropped from the first batch
    assert "1 sample(s) skipped (broken)" in trained.stderr
    bad = [json.loads(line) for line in (tmp_path / "run" / "bad_samples.jsonl").read_text().splitlines()]
    assert {b["id"] for b in bad} == {"broken"}
    assert bad[0]["reason"].startswith(f"cannot read signal {root / 'traces' / 'broken.csv'}: ValueError")

    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "q", "question": QUESTION, "media": str(root / "traces/0.csv")}))
    run([str(bin_dir / "mmbind"), "infer", str(tmp_path / "run"), "--input", str(questions), "--output",
         str(tmp_path / "answers.jsonl")], tmp_path, env)
    answer = json.loads((tmp_path / "answers.jsonl").read_text().splitlines()[0])
    assert answer["id"] == "q" and isinstance(answer["answer"], str)
