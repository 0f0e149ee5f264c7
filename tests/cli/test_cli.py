"""The mmbind command line: plugins, recipe show / schema, demo, error reporting."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from mmbind.cli.main import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_plugins_json(capsys):
    code, out, _ = run_cli(capsys, "plugins", "--json")
    assert code == 0
    rows = json.loads(out)
    names = {(r["kind"], r["name"]) for r in rows}
    assert {
        ("encoder", "clip_vision"), ("projector", "mlp2x_gelu"), ("projector", "linear"), ("llm", "hf_causal")
    } <= names
    for row in rows:
        assert {"kind", "name", "source", "status"} <= set(row)
        assert row["kind"] in ("encoder", "projector", "llm", "benchmark", "loader", "stage_kind", "unknown")
    assert {("loader", "image"), ("loader", "video")} <= names
    assert {("stage_kind", k) for k in ("lm", "dpo", "align", "mae")} <= names


def test_plugins_table(capsys):
    code, out, _ = run_cli(capsys, "plugins")
    assert code == 0 and "clip_vision" in out and "hf_causal" in out and "ok" in out


def test_recipe_show_applies_overrides(capsys):
    code, out, _ = run_cli(
        capsys, "recipe", "show", "tiny/hf_video_llava", "model.seed=5", "model.projector.options={}",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert (
        data["model"]["seed"] == 5
        and data["model"]["projector"]["options"] == {"act": "gelu", "bias": True}
    )
    code, out, _ = run_cli(capsys, "recipe", "show", "tiny/hf_video_llava")
    assert code == 0 and yaml.safe_load(out)["name"] == "tiny-hf-video-llava"


def test_recipe_list_shows_the_bundled_recipes(capsys):
    code, out, _ = run_cli(capsys, "recipe", "list", "--json")
    assert code == 0
    rows = {r["recipe"]: r for r in json.loads(out)}
    assert {"tiny/train", "tiny/video_llava", "video_llava_7b", "ablations/alignment"} <= set(rows)
    assert rows["tiny/train"]["name"] == "tiny-video-llava-train" and rows["tiny/train"]["kind"] == "recipe"
    assert rows["ablations/alignment"]["kind"] == "sweep"
    assert rows["video_llava_7b"]["description"].startswith("Video-LLaVA-7B")
    code, out, _ = run_cli(capsys, "recipe", "list")
    assert code == 0 and "tiny/train" in out


def test_recipe_schema(capsys):
    code, out, _ = run_cli(capsys, "recipe", "schema")
    assert code == 0 and "ModelSpec" in json.loads(out)["$defs"]
    code, out, _ = run_cli(capsys, "recipe", "schema", "--plugin", "encoder:clip_vision")
    assert code == 0 and "select_layer" in json.loads(out)["properties"]
    code, _, err = run_cli(capsys, "recipe", "schema", "--plugin", "clip_vision")
    assert code == 2 and "expected KIND:NAME" in err


def test_invalid_recipe_exits_2_with_one_message_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  encoders: {}\n  projector: {plugin: linear}\n  llm: {plugin: hf_causal}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mmbind", "recipe", "show", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert (
        f"{bad}: invalid recipe: model.encoders: Value error, at least one encoder is required"
        in " ".join(proc.stderr.split())
    )


def test_unknown_plugin_exits_2(capsys):
    code, _, err = run_cli(capsys, "recipe", "show", "tiny/hf_video_llava", "model.llm.plugin=hf_casual")
    assert code == 2 and "unknown llm 'hf_casual'; did you mean 'hf_causal'?" in " ".join(err.split())


def test_convert_missing_source_is_a_clean_error(capsys, tmp_path):
    code, _, err = run_cli(capsys, "convert", "hf", str(tmp_path / "nothing"), str(tmp_path / "out"))
    assert code != 0 and "nothing" in err and "Traceback" not in err


@pytest.mark.slow
def test_demo_runs(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "demo", "--compose-only", "--out", str(tmp_path / "demo"))
    out = " ".join(out.split())
    assert code == 0
    assert "reloaded model generates the same tokens: True" in out
    assert "encoder:video" in out and "mlp2x_gelu" in out
    assert (tmp_path / "demo" / "model.safetensors").is_file()


@pytest.mark.slow
def test_study_demo_end_to_end_and_rerun_reuses_the_run(capsys, tmp_path):
    argv = ["demo", "--recipe", "tiny/train", "--out", str(tmp_path / "d"), "--size", "micro",
            "--no-progress", "stages.pretrain.max_steps=1", "stages.finetune.max_steps=1"]
    code, out, _ = run_cli(capsys, *argv)
    out = " ".join(out.split())
    assert code == 0
    for step in ("1. synthetic image + video benchmark", "2. training", "3. evaluation on held-out sets",
                 "4. answers next to the ground truth", "5. chat with the result"):
        assert step in out
    assert (tmp_path / "d" / "data" / "manifest.json").is_file()
    assert (tmp_path / "d" / "feature_cache").is_dir()  # everything inside the demo folder
    assert sorted(p.name for p in (tmp_path / "d" / "run" / "eval").glob("*.json")) == [
        "image_open.json", "image_pope.json", "video_open.json", "video_pope.json"]
    assert (tmp_path / "d" / "run" / "stages" / "finetune" / "model.safetensors").is_file()
    image = tmp_path / "d" / "data" / "eval" / "images" / "00000.png"  # not a depth map of the same name
    assert f"--image{image}--prompt" in "".join(out.split())  # (rich may wrap the long line)
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and "is already trained" in " ".join(out.split())
