"""Experiment trackers (``report_to`` / ``--report-to``): refused at load when unknown or not installed;
a tiny two-stage run, interrupted and resumed, sends its config, every metric and the loss chart to
TensorBoard, W&B (offline) and MLflow (a local store), read back here with each tracker's own reader."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mmbind.errors import RecipeError
from mmbind.recipe import load_recipe
from mmbind.recipe.trackers import TRACKERS
from mmbind.train import StepInfo, train
from mmbind.train.loop import Interrupt
from tests.support.helpers import cli
from tests.support.train import TRAIN_RECIPE, logged_losses, make_data, tiny_train_recipe
from tests.support.wandb_offline import wandb_config, wandb_history

STAGES = [
    "stages.pretrain.global_batch=2", "stages.pretrain.per_device_batch=1", "stages.pretrain.epochs=1",
    "stages.finetune.global_batch=2", "stages.finetune.per_device_batch=1", "stages.finetune.epochs=1",
    "stages.finetune.save_every_steps=100", "stages.pretrain.save_every_steps=100",
]


def _hide(monkeypatch: pytest.MonkeyPatch, missing: str = "") -> None:
    """``missing`` looks uninstalled, the other trackers installed (whether they are or not)."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object, **kwargs: object) -> object:
        if name in TRACKERS:
            return None if name == missing else object()
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_an_unknown_tracker_is_refused_with_the_closest_name():
    with pytest.raises(RecipeError, match=r"report_to: .*unknown tracker 'tensorbord'; "
                                          r"did you mean 'tensorboard'"):
        load_recipe(TRAIN_RECIPE, ["report_to=[tensorbord]"])
    with pytest.raises(RecipeError, match="known trackers: tensorboard, wandb, mlflow"):
        load_recipe(TRAIN_RECIPE, ["report_to=[comet]"])


def test_a_tracker_not_installed_is_refused_when_the_recipe_loads(monkeypatch):
    _hide(monkeypatch, "wandb")
    with pytest.raises(RecipeError, match=r"report_to.1: tracker 'wandb' is not installed "
                                          r"\(pip install 'mmbind\[wandb\]'\)"):
        load_recipe(TRAIN_RECIPE, ["report_to=[tensorboard,wandb]"])
    assert load_recipe(TRAIN_RECIPE, ["report_to=[tensorboard]"]).report_to == ["tensorboard"]


def test_report_to_option_is_checked_before_training(monkeypatch, capsys, tmp_path):
    _hide(monkeypatch, "mlflow")
    code, _, err = cli(capsys, "train", "tiny/train", "--output", tmp_path / "run", "--report-to", "mlflow")
    assert code == 2
    assert "tracker 'mlflow' is not installed (pip install 'mmbind[mlflow]')" in err
    assert not (tmp_path / "run").exists()  # nothing trained, nothing written
    code, _, err = cli(capsys, "train", "tiny/train", "--output", tmp_path / "run", "--report-to", "wandbb")
    assert code == 2 and "did you mean 'wandb'" in err


def test_report_to_option_replaces_the_recipes_and_none_clears_it(monkeypatch):
    _hide(monkeypatch)
    from mmbind.cli.train_cmd import _with_trackers

    recipe = load_recipe(TRAIN_RECIPE, ["report_to=[tensorboard]"])
    assert _with_trackers(recipe, "mlflow, wandb").report_to == ["mlflow", "wandb"]
    cleared = _with_trackers(recipe, "none")
    assert cleared.report_to == []
    assert "report_to" not in cleared.model_dump(mode="json")  # dumped as before trackers existed
    assert recipe.model_dump(mode="json")["report_to"] == ["tensorboard"]


def _tensorboard(run: Path) -> tuple[dict[str, list[tuple[int, float]]], list[str], str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    every = {"scalars": 0, "images": 0, "tensors": 0}  # 0: keep every event
    events = EventAccumulator(str(run / "tensorboard"), size_guidance=every)
    events.Reload()
    tags = events.Tags()
    scalars = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in tags["scalars"]}
    text = events.Tensors("recipe/text_summary")[0].tensor_proto.string_val[0].decode()
    return scalars, tags["images"], text


@pytest.mark.slow
def test_trackers_receive_config_metrics_and_chart_and_a_resumed_run_continues_them(tmp_path, monkeypatch):
    for tracker in ("wandb", "mlflow", "tensorboard"):
        pytest.importorskip(tracker)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    data = make_data(tmp_path / "data")
    recipe = tiny_train_recipe(data, *STAGES, "report_to=[tensorboard,wandb,mlflow]")
    run = tmp_path / "run"

    def stop(info: StepInfo) -> None:
        if info.stage == "finetune" and info.step == 2:
            Interrupt.requested = True  # stops after the next step with a checkpoint, as Ctrl-C does

    first = train(recipe, run, callbacks=[stop], progress=False)
    assert first["status"] == "interrupted"
    ids = json.loads((run / "trackers.json").read_text())
    assert set(ids) == {"tensorboard", "wandb", "mlflow"}
    second = train(recipe, run, resume=True, progress=False)
    assert second["status"] == "done"
    assert json.loads((run / "trackers.json").read_text()) == ids  # the same tracker runs, continued

    losses = logged_losses(run)
    stages = [name for name, _, _ in losses]
    assert stages.count("pretrain") > 0 and stages.count("finetune") > 3
    offset = max(step for name, step, _ in losses if name == "pretrain")
    expected = [(step + (offset if name == "finetune" else 0), loss) for name, step, loss in losses]

    # TensorBoard: every logged loss at its step over all stages, the other metrics, the chart, the recipe
    scalars, images, text = _tensorboard(run)
    assert [(s, pytest.approx(v, rel=1e-6)) for s, v in expected] == scalars["loss"]
    assert {"lr", "grad_norm", "tokens_per_s", "skipped_samples"} <= set(scalars)
    assert "loss_chart" in images
    assert yaml.safe_load(text.removeprefix("```yaml\n").removesuffix("```"))["report_to"] == recipe.report_to

    # MLflow: the same run, its metrics, the recipe as params and artifact, the chart
    from mlflow.tracking import MlflowClient

    assert "tracking_uri" not in ids["mlflow"]  # the run folder's own store, wherever the folder moves
    client = MlflowClient(tracking_uri=f"sqlite:///{run.resolve()}/mlruns/mlflow.db")
    mlrun = client.get_run(ids["mlflow"]["run_id"])
    assert mlrun.info.status == "FINISHED"
    history = sorted((m.step, m.value) for m in client.get_metric_history(mlrun.info.run_id, "loss"))
    assert history == [(s, pytest.approx(v, rel=1e-9)) for s, v in expected]
    params = mlrun.data.params
    assert params["stages.finetune.global_batch"] == "2"
    assert params["model.llm.plugin"] == recipe.model.llm.plugin
    assert json.loads(params["report_to"]) == ["tensorboard", "wandb", "mlflow"]
    artifacts = {a.path for a in client.list_artifacts(mlrun.info.run_id)}
    assert {"loss.png", "recipe.yaml"} <= artifacts
    assert len(client.search_runs([mlrun.info.experiment_id])) == 1  # resuming opened no second run

    # W&B (offline): both sessions wrote to the run id kept, with the config, history and chart
    run_id = ids["wandb"]["run_id"]
    folders = sorted((run / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(folders) == 2 and sorted((run / "wandb").glob("offline-run-*")) == folders
    rows = [row for folder in folders for row in wandb_history(folder / f"run-{run_id}.wandb")]
    assert [(row["_step"], row["loss"]) for row in rows if "loss" in row] == expected
    assert {"lr", "grad_norm", "tokens_per_s"} <= set(rows[-2])
    charts = [row["loss_chart"] for row in rows if "loss_chart" in row]
    assert charts and charts[0]["_type"] == "image-file"
    assert (folders[0] / "files" / charts[0]["path"]).is_file()
    config = wandb_config(folders[-1] / f"run-{run_id}.wandb")
    assert config["stages"]["finetune"]["global_batch"] == 2
    assert config["report_to"] == ["tensorboard", "wandb", "mlflow"]


CHECK_IMPORTS = """
import json, sys
from mmbind.recipe import load_recipe
from mmbind.recipe.trackers import TRACKERS
import mmbind.train.run
load_recipe(sys.argv[1], ["report_to=[tensorboard,wandb,mlflow]"])  # checked installed, not imported
backends = [m for m in sys.modules if m.startswith("mmbind.train.trackers.") and m.endswith("_tracker")]
print(json.dumps(sorted(backends + [m for m in ("tensorboard", "mlflow") if m in sys.modules])))
"""


@pytest.mark.slow
def test_no_tracker_library_is_imported_by_the_trainer_or_a_recipe_naming_it():
    for tracker in TRACKERS:
        pytest.importorskip(tracker)
    # (wandb itself is left out: timm, which a plugin uses, imports it whenever it is installed)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", CHECK_IMPORTS, str(TRAIN_RECIPE)], capture_output=True,
                          text=True, env=env, check=True)
    assert json.loads(proc.stdout.splitlines()[-1]) == []


def test_a_tracker_that_cannot_open_its_run_is_one_error_before_training(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mmbind.errors import TrackerError
    from mmbind.train.trackers import Trackers

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://nowhere")
    with pytest.raises(TrackerError, match=r"report_to: mlflow could not open its run \("):
        Trackers.open(["mlflow"], tmp_path, {"name": "x"}, "x", resume=False)
    assert not (tmp_path / "trackers.json").exists()


@pytest.mark.slow
def test_mlflow_does_not_log_a_step_twice_when_a_killed_run_replays_it(tmp_path, monkeypatch):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from mmbind.train.trackers.mlflow_tracker import MlflowTracker

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    first = MlflowTracker(tmp_path, None, "run")
    for step in (1, 2, 3):
        first.log_metrics({"lr": 0.1, "loss": float(step)}, step)
    first.close("interrupted")  # a kill after step 3; the checkpoint was at step 1
    again = MlflowTracker(tmp_path, first.state(), "run")
    for step in (2, 3, 4):
        again.log_metrics({"lr": 0.1, "loss": float(step) + 0.5}, step)
    again.close("done")
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db")
    history = sorted((m.step, m.value) for m in client.get_metric_history(first.run_id, "loss"))
    assert history == [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.5)]
    assert again.run_id == first.run_id and client.get_run(first.run_id).info.status == "FINISHED"
