"""Faults and bad input around resuming (hardening items 1, 3 and 6): a pickle payload planted in a
checkpoint never runs; a damaged newest checkpoint falls back to the previous good one with a warning; torn
log lines are repaired; a result-altering recipe edit is refused unless ``--allow-recipe-change`` names it;
SIGTERM checkpoints and exits 143; a full disk or a permission error is one message, the run resumable.

Every case copies one interrupted micro run (finetune only, checkpoints at steps 2 and 3 of 5) and runs
``mmbind train --resume`` in this process, asserting the exit code, one clear message without a traceback,
and what is left on disk."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from mmbind.cli.main import main
from mmbind.errors import CheckpointError
from mmbind.train import StepInfo, train
from mmbind.train.checkpoint import checkpoint_problem, list_checkpoints, read_state
from mmbind.train.loop import Interrupt
from mmbind.train.manifest import MANIFEST, write_manifest
from mmbind.train.metrics import MetricsLog
from mmbind.train.recipe_lock import LOCK_FILE
from tests.support.helpers import wait_until_paused
from tests.support.train import TRAIN_RECIPE, data_overrides, make_data, tiny_train_recipe

NEWEST, OLDER = "ckpt-s00-0000003", "ckpt-s00-0000002"
DRIVER = Path(__file__).resolve().parents[1] / "support" / "train_driver.py"


class Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def _stop_after(step: int):
    def callback(info: StepInfo) -> None:
        if info.step == step:
            Interrupt.requested = True  # as the first Ctrl-C does: the next step ends with a checkpoint
    return callback


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """An interrupted run: finetune only, 5 steps, checkpoints kept at steps 2 and 3."""
    root = tmp_path_factory.mktemp("base")
    data = make_data(root / "data", images=2, videos=2, text_only=2)
    recipe = tiny_train_recipe(data, "stages.finetune.max_steps=5", "stages.finetune.global_batch=2",
                               "stages.finetune.per_device_batch=2", "stages.finetune.save_every_steps=1",
                               "stages.finetune.keep_last=2")
    recipe.stages = {"finetune": recipe.stages["finetune"]}
    summary = train(recipe, root / "run", callbacks=[_stop_after(2)], progress=False)
    assert summary["status"] == "interrupted"
    assert [p.name for p in list_checkpoints(root / "run")] == [OLDER, NEWEST]
    return root / "run"


@pytest.fixture
def run(base, tmp_path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(base, out)
    return out


def _resume(run: Path, capsys, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["train", "--resume", str(run), "--no-progress", *extra])
    return code, " ".join(capsys.readouterr().err.split())


def _finished(run: Path) -> bool:
    return (run / "stages" / "finetune" / "model.safetensors").is_file()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_the_payload_is_live(tmp_path):
    """The planted object does run when unpickled the old way (so the cases below mean something)."""
    torch.save({"state": Payload(tmp_path / "marker")}, tmp_path / "x.pt")
    torch.load(tmp_path / "x.pt", weights_only=False)
    assert (tmp_path / "marker").exists()


# ------------------------------------------------------------------ 1. no code execution on resume
@pytest.mark.slow
@pytest.mark.parametrize("name", ["optimizer.pt", "scheduler.pt", "rng-rank0.pt"])
@pytest.mark.parametrize("manifest", ["kept", "removed"])
def test_a_planted_payload_never_runs_and_resume_falls_back(run, capsys, tmp_path, name, manifest):
    marker = tmp_path / "marker"
    torch.save({"state": Payload(marker)}, run / "checkpoints" / NEWEST / name)
    if manifest == "removed":  # a checkpoint as written before manifests: loadability is checked instead
        (run / "checkpoints" / NEWEST / MANIFEST).unlink()
    code, err = _resume(run, capsys)
    assert not marker.exists()
    assert code == 0 and "Traceback" not in err
    assert f"checkpoint {run / 'checkpoints' / NEWEST} is damaged" in err and f"resuming from {OLDER}" in err
    assert name in err
    assert (run / "checkpoints" / f".damaged-{NEWEST}").is_dir() and _finished(run)


def test_a_payload_behind_a_rewritten_manifest_is_refused(run, capsys, tmp_path):
    marker = tmp_path / "marker"
    for ckpt in (NEWEST, OLDER):
        torch.save({"state": Payload(marker)}, run / "checkpoints" / ckpt / "optimizer.pt")
        write_manifest(run / "checkpoints" / ckpt)
    code, err = _resume(run, capsys)
    assert not marker.exists()
    assert code == CheckpointError.exit_code and "Traceback" not in err
    refused = f"{run / 'checkpoints' / NEWEST / 'optimizer.pt'}: refused to load"
    assert refused in err and "posix.system" in err
    assert not _finished(run) and [p.name for p in list_checkpoints(run)] == [OLDER, NEWEST]


# ------------------------------------------------------------------ 3. damaged checkpoints
DAMAGE = {
    "trainable-truncated": (lambda c: _truncate(c / "trainable.safetensors"), "trainable.safetensors has"),
    "rng-truncated": (lambda c: _truncate(c / "rng-rank0.pt"), "rng-rank0.pt has"),
    "optimizer-missing": (lambda c: (c / "optimizer.pt").unlink(), "optimizer.pt is missing"),
    "state-garbled": (
        lambda c: (c / "state.json").write_text("{\"stage\": "), "state.json is missing or unreadable"
    ),
    "weights-edited": (lambda c: _flip_last_byte(c / "trainable.safetensors"), "does not match its SHA-256"),
    "old-style-truncated": (lambda c: ((c / MANIFEST).unlink(), _truncate(c / "trainable.safetensors")),
                            "trainable.safetensors is unreadable"),
}


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(run, capsys, kind):
    damage, reason = DAMAGE[kind]
    damage(run / "checkpoints" / NEWEST)
    code, err = _resume(run, capsys)
    assert code == 0 and "Traceback" not in err
    assert f"warning: checkpoint {run / 'checkpoints' / NEWEST} is damaged" in err and reason in err
    assert f"resuming from {OLDER}" in err
    assert (run / "checkpoints" / f".damaged-{NEWEST}").is_dir() and _finished(run)
    steps = [r["step"] for r in MetricsLog(run).records()]
    assert steps == [1, 2, 3, 4, 5]  # step 3 replayed once from step 2, not logged twice


def test_no_good_checkpoint_is_one_error_and_nothing_is_moved(run, capsys):
    for ckpt in (NEWEST, OLDER):
        _truncate(run / "checkpoints" / ckpt / "trainable.safetensors")
    code, err = _resume(run, capsys)
    assert code == CheckpointError.exit_code and "Traceback" not in err
    assert f"{run}: no usable checkpoint ({NEWEST}: trainable.safetensors has" in err
    assert f"move {run / 'checkpoints'} away" in err
    assert [p.name for p in list_checkpoints(run)] == [OLDER, NEWEST] and not _finished(run)


# ------------------------------------------------------------------ 3. torn logs
def test_readers_skip_a_torn_last_line_and_name_a_damaged_middle_one(tmp_path):
    log = MetricsLog(tmp_path)
    log.write({"stage": "a", "stage_index": 0, "step": 1, "loss": 1.0})
    with log.path.open("a") as handle:
        handle.write('{"stage": "a", "stage_index": 0, "st')
    assert [r["step"] for r in log.records()] == [1]
    log.path.write_text('{"step": 1}\n{"st\n{"step": 3}\n')
    with pytest.raises(CheckpointError, match=r"metrics.jsonl:2: not a JSON object"):
        log.records()


@pytest.mark.slow
@pytest.mark.parametrize("log", ["metrics.jsonl", "bad_samples.jsonl"])
def test_a_torn_log_line_is_cut_off_on_resume(run, capsys, log):
    path = run / log
    if log == "bad_samples.jsonl":
        path.write_text(json.dumps({"stage": "finetune", "epoch": 0, "id": "x", "reason": "r"}) + "\n")
    with path.open("a") as handle:
        handle.write('{"stage": "finetune", "epo')
    code, err = _resume(run, capsys)
    assert code == 0 and "Traceback" not in err
    assert f"warning: {path} ended in a half-written line; it was cut off" in err
    text = path.read_text()
    assert text.endswith("\n") and all(json.loads(line) for line in text.splitlines())
    assert _finished(run)


# ------------------------------------------------------------------ 3. recipe edited between runs
def _edit_recipe(run: Path, key: str, value) -> None:
    data = yaml.safe_load((run / "recipe.yaml").read_text())
    data["stages"]["finetune"][key] = value
    (run / "recipe.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize("key,value,shown", [("lr", 0.002, "stages.finetune.lr: 0.0002 -> 0.002"),
                                             ("seed", 7, "stages.finetune.seed: 0 -> 7")])
def test_a_result_altering_recipe_edit_is_refused(run, capsys, key, value, shown):
    lock = (run / LOCK_FILE).read_text()
    _edit_recipe(run, key, value)
    code, err = _resume(run, capsys)
    assert code == CheckpointError.exit_code and "Traceback" not in err
    assert shown in err and f"--allow-recipe-change stages.finetune.{key}" in err
    assert (run / LOCK_FILE).read_text() == lock and not _finished(run)
    assert [p.name for p in list_checkpoints(run)] == [OLDER, NEWEST]


@pytest.mark.slow
@pytest.mark.parametrize("key,value,allow", [("lr", 0.002, ["--allow-recipe-change", "stages.finetune.lr"]),
                                             ("keep_last", 3, [])])
def test_a_named_or_harmless_recipe_edit_is_accepted(run, capsys, key, value, allow):
    _edit_recipe(run, key, value)
    code, err = _resume(run, capsys, *allow)
    assert code == 0 and "Traceback" not in err and _finished(run)
    assert ("recipe change accepted: stages.finetune.lr: 0.0002 -> 0.002" in err) == bool(allow)
    assert json.loads((run / LOCK_FILE).read_text())["recipe"]["stages"]["finetune"][key] == value


def test_allow_recipe_change_needs_resume(capsys):
    assert main(["train", str(TRAIN_RECIPE), "--allow-recipe-change", "stages.finetune.lr"]) == 2
    assert "--allow-recipe-change applies to --resume only" in capsys.readouterr().err


# ------------------------------------------------------------------ 3. disk full, permission denied
def _fail_checkpoint_weights(monkeypatch, run: Path) -> None:
    from mmbind.train import checkpoint

    def save_file(tensors, filename, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)
    monkeypatch.setattr(checkpoint, "save_file", save_file)


def _fail_checkpoint_optimizer(monkeypatch, run: Path) -> None:
    real = torch.save

    def save(obj, f, *args, **kwargs):
        if str(f).endswith("optimizer.pt"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(f))
        return real(obj, f, *args, **kwargs)
    monkeypatch.setattr(torch, "save", save)


def _fail_metrics(monkeypatch, run: Path) -> None:
    def write(self, record):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
    monkeypatch.setattr(MetricsLog, "write", write)


def _fail_stage_output(monkeypatch, run: Path) -> None:
    from mmbind.train import export

    def save_model(directory, *parts):
        Path(directory).mkdir(parents=True)
        (Path(directory) / "model.safetensors").write_bytes(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(directory) / "model.safetensors"))
    monkeypatch.setattr(export, "save_model", save_model)


STORAGE = {
    "checkpoint-weights-ENOSPC": (_fail_checkpoint_weights, "trainable.safetensors", "(ENOSPC)"),
    "checkpoint-optimizer-EACCES": (_fail_checkpoint_optimizer, "optimizer.pt", "(EACCES)"),
    "metrics-ENOSPC": (_fail_metrics, "metrics.jsonl", "(ENOSPC)"),
    "stage-output-ENOSPC": (_fail_stage_output, "model.safetensors", "(ENOSPC)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(STORAGE))
def test_a_failed_write_is_one_message_and_the_run_stays_resumable(run, capsys, monkeypatch, kind):
    fail, path, reason = STORAGE[kind]
    with monkeypatch.context() as patch:
        fail(patch, run)
        code, err = _resume(run, capsys)
    assert code == 1 and "Traceback" not in err
    assert path in err and reason in err and f"continue with: mmbind train --resume {run}" in err
    assert not list((run / "checkpoints").glob(".tmp-*")) and not list((run / "stages").glob(".tmp-*"))
    assert not _finished(run)
    newest = list_checkpoints(run)[-1]
    assert checkpoint_problem(newest) is None and read_state(newest)["step"] >= 3
    code, err = _resume(run, capsys)  # space freed: the run finishes
    assert code == 0 and _finished(run)


# ------------------------------------------------------------------ 3. SIGTERM
@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_143(tmp_path, capsys):
    data = make_data(tmp_path / "data", images=2, videos=2, text_only=2)
    run = tmp_path / "run"
    args = [*data_overrides(data), "stages.pretrain.max_steps=1", "stages.finetune.max_steps=12",
            "stages.finetune.global_batch=2", "stages.finetune.per_device_batch=2",
            "stages.finetune.save_every_steps=3"]

    def terminate_after_first_finetune_checkpoint() -> None:
        while not any(read_state(p)["stage"] == "finetune" for p in list_checkpoints(run)):
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_after_first_finetune_checkpoint, daemon=True).start()
    assert main(["train", str(TRAIN_RECIPE), *args, "--output", str(run), "--no-progress"]) == 143
    err = " ".join(capsys.readouterr().err.split())
    assert f"continue with: mmbind train --resume {run}" in err and "Traceback" not in err
    stopped = read_state(list_checkpoints(run)[-1])
    assert stopped["stage"] == "finetune" and 3 <= stopped["step"] < 12
    assert json.loads((run / "summary.json").read_text())["signal"] == "SIGTERM"
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert [r["step"] for r in MetricsLog(run).records() if r["stage"] == "finetune"] == list(range(1, 13))


@pytest.mark.slow
def test_sigterm_mid_stage_then_resume_is_bit_identical(tmp_path):
    data = make_data(tmp_path / "data", images=3, videos=3, text_only=2)
    full, stopped = tmp_path / "full", tmp_path / "stopped"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    drop = "model.llm.options.config.attention_dropout=0.2"

    def driver(run: Path, mode: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, str(DRIVER), str(data), str(run), mode, drop], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    assert driver(full, "full").wait(timeout=300) == 0
    waiting = driver(stopped, "wait")
    wait_until_paused(waiting, stopped, timeout=300)
    waiting.send_signal(signal.SIGTERM)
    assert waiting.wait(timeout=120) == 143, waiting.stdout.read()
    latest = list_checkpoints(stopped)[-1]
    assert read_state(latest)["stage"] == "finetune" and read_state(latest)["step"] == 6  # the step after
    assert driver(stopped, "resume").wait(timeout=300) == 0
    final = load_file(str(stopped / "stages" / "finetune" / "model.safetensors"))
    expected = load_file(str(full / "stages" / "finetune" / "model.safetensors"))
    assert final.keys() == expected.keys()
    for name, tensor in expected.items():
        assert tensor.view(torch.uint8).equal(final[name].view(torch.uint8)), name
