"""Sweep files and their resolution: schema errors, a missing recipe or a bad override in any variant is one
`SweepError` naming the variant before anything runs (nothing trained, no output folder), seeds applied
to the model and every stage, unknown eval sets and metric paths caught after data preparation but before
training, and the shipped sweeps resolve."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mmbind.ablate import load_plan, load_sweep, run_sweep
from mmbind.cli.main import main
from mmbind.errors import SweepError
from tests.support.ablate import FakeRunner, fake_dataset, write_sweep

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data(tmp_path) -> Path:
    return fake_dataset(tmp_path / "data")


def edit(path: Path, **fields) -> Path:
    sweep = yaml.safe_load(path.read_text())
    sweep.update(fields)
    path.write_text(yaml.safe_dump(sweep, sort_keys=False))
    return path


@pytest.mark.parametrize("fields, message", [
    ({"variantz": {}}, r"variantz: Extra inputs are not permitted"),
    ({"seeds": [0, 0]}, r"seeds: Value error, seeds \[0, 0\] repeat a seed"),
    ({"seeds": []}, r"seeds: List should have at least 1 item"),
    ({"variants": {"a/b": {}}}, r"variant name 'a/b': use letters, digits"),
    ({"variants": {"a": {"recipe": "x.yaml", "overides": []}}}, r"variants\.a\.overides: Extra inputs"),
    ({"metrics": ["image_open"]},
     r"metrics\.0\.key: Value error, metric key 'image_open': expected SET\.path\.to\.score"),
    ({"eval": {"sets": "some"}}, r"eval\.sets\.literal\['all'\]: Input should be 'all' \(got 'some'\)"),
    ({"data": {"synth": {"out": "d", "size": "huge"}}},
     r"data\.synth\.size: Value error, unknown dataset size 'huge' \(choose from: micro, small, default\)"),
])
def test_schema_errors_name_the_field(tmp_path, data, fields, message):
    path = write_sweep(tmp_path, data, **fields)
    with pytest.raises(SweepError, match=rf"^{path}: invalid sweep: .*{message}"):
        load_sweep(path)


def test_file_errors(tmp_path):
    with pytest.raises(SweepError, match=rf"^{tmp_path / 'nope.yaml'}: sweep file not found$"):
        load_sweep(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(SweepError, match=r"bad\.yaml: not valid YAML at line 2"):
        load_sweep(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(SweepError, match=r"list\.yaml: a sweep must be a mapping at the top level, got list"):
        load_sweep(tmp_path / "list.yaml")


@pytest.mark.parametrize("variant, message", [
    ({"recipe": "missing.yaml"}, r"variant 'broken': {dir}/missing\.yaml: recipe file not found$"),
    ({"overrides": ["stages.finetune.lrr=1"]},
     r"variant 'broken': .*train\.yaml: invalid recipe: stages\.finetune\.lrr: Extra inputs are not "
     r"permitted"),
    ({"overrides": ["stages.finetune.lr"]},
     r"variant 'broken': override 'stages\.finetune\.lr': expected KEY=VALUE, e\.g\. model\.seed=0$"),
    ({"overrides": ["model.encoders.image.plugin=nope"]},
     r"variant 'broken': .*model\.encoders\.image\.plugin: .*nope"),
    ({"recipe": str(ROOT / "mmbind" / "recipes" / "tiny" / "video_llava.yaml")},
     r"variant 'broken': .*video_llava\.yaml: the recipe cannot train \(it needs 'data:' and 'stages:' "
     r"sections\)$"),
])
def test_bad_variant_reported_before_anything_runs(tmp_path, data, variant, message, capsys):
    path = write_sweep(tmp_path, data, variants={"a": {}, "broken": variant, "c": {}},
                       data={"synth": {"out": str(tmp_path / "x")}})
    runner = FakeRunner(fail=True)
    expected = rf"^{path}: " + message.replace("{dir}", str(tmp_path))
    with pytest.raises(SweepError, match=expected):
        run_sweep(path, runner=runner)
    assert not (tmp_path / "out").exists() and not (tmp_path / "x").exists()  # nothing ran, not even data
    assert main(["ablate", str(path)]) == 2  # the CLI: one message, exit 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith(f"error: {path}: variant 'broken': ") and "Traceback" not in err


def test_seeds_applied_to_model_and_every_stage(tmp_path, data):
    plan = load_plan(write_sweep(tmp_path, data, seeds=[3, 7]))
    assert [(r.variant, r.seed, r.run_dir, r.status) for r in plan.runs] == [
        ("a", 3, tmp_path / "out" / "a" / "seed3", "new"), ("a", 7, tmp_path / "out" / "a" / "seed7", "new"),
        ("b", 3, tmp_path / "out" / "b" / "seed3", "new"), ("b", 7, tmp_path / "out" / "b" / "seed7", "new"),
    ]
    for run in plan.runs:
        assert run.recipe.model.seed == run.seed
        stage_seeds = {name: s.seed for name, s in run.recipe.stages.items()}
        assert stage_seeds == {"pretrain": run.seed, "finetune": run.seed}
        assert run.recipe.stages["finetune"].lr == (2e-4 if run.variant == "a" else 1e-3)
    assert plan.labels == {"a": "variant A", "b": "b"}
    assert plan.output == tmp_path / "out"


def test_cli_overrides_and_output(tmp_path, data, capsys):
    path = write_sweep(tmp_path, data)
    plan = load_plan(path, tmp_path / "elsewhere", ["stages.pretrain.max_steps=2"])
    assert plan.runs[0].run_dir == tmp_path / "elsewhere" / "a" / "seed0"
    assert all(r.recipe.stages["pretrain"].max_steps == 2 for r in plan.runs)
    assert main(["ablate", str(path), "stages.pretrain.max_steps=2", "--dry-run"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "fake: 4 run(s) in" in out and "variant A" in out and "pretrain, finetune" in out and "new" in out
    assert [(r.variant, r.seed) for r in load_plan(path, seeds=[5]).runs] == [("a", 5), ("b", 5)]
    with pytest.raises(SweepError, match=r"^--seeds: seeds: Value error, seeds \[1, 1\] repeat a seed \(got"):
        load_plan(path, seeds=[1, 1])
    assert main(["ablate", str(path), "--seeds", "3,4", "--dry-run"]) == 0
    assert "fake: 4 run(s) in" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fields, message", [
    ({"eval": {"sets": ["image_open", "audio_open"]}},
     r"eval\.sets: unknown eval set 'audio_open' in .*data \(known: image_open, video_pope\)"),
    ({"metrics": ["video_open.overall.accuracy"]},
     r"metrics: video_open\.overall\.accuracy: 'video_open' is not among the evaluated sets "
     r"\(image_open, video_pope\)"),
    ({"eval": {"sets": ["image_open"]}, "metrics": ["video_pope.random.f1"]},
     r"metrics: video_pope\.random\.f1: 'video_pope' is not among the evaluated sets \(image_open\)$"),
    ({"metrics": ["video_pope.random.f2"]},
     r"metrics: video_pope\.random\.f2: not a score of video_pope \(pope set; expected "
     r"video_pope\.<name\|\*>\."
     r"accuracy\|precision\|recall\|f1\|yes_ratio\|tp\|fp\|tn\|fn\|n\)$"),
    ({"metrics": ["image_open.overall"]},
     r"metrics: image_open\.overall: not a score of image_open \(open set; expected image_open\.overall\."
     r"accuracy\|correct\|n or image_open\.by_type\.<name\|\*>\.accuracy\|correct\|n\)$"),
])
def test_eval_sets_and_metrics_checked_before_training(tmp_path, fields, message):
    synth = {"synth": {"out": str(tmp_path / "data"), "size": "micro"}}
    path = write_sweep(tmp_path, tmp_path / "data", data=synth, **fields)
    runner = FakeRunner()
    with pytest.raises(SweepError, match=rf"^{path}: {message}"):
        run_sweep(path, runner=runner)
    # data prepared, nothing trained
    assert runner.calls == [("synth", str(tmp_path / "data"), "micro", 0, "default")]


def test_missing_data_file_checked_before_training(tmp_path, data):
    (data / "finetune.json").unlink()
    path = write_sweep(tmp_path, data)
    message = rf"variant 'a': data\.datasets\.finetune: {data}/finetune\.json: dataset file not found$"
    with pytest.raises(SweepError, match=message):
        run_sweep(path, runner=FakeRunner(fail=True))


@pytest.mark.parametrize("name", ["alignment", "joint_training"])
def test_shipped_sweeps_resolve(name):
    plan = load_plan(ROOT / "mmbind" / "recipes" / "ablations" / f"{name}.yaml")
    assert plan.sweep.seeds == [0, 1, 2] and len(plan.runs) == 3 * len(plan.sweep.variants) == 9
    assert plan.output == Path("runs") / "ablations" / name
    for run in plan.runs:
        assert run.recipe.model.seed == run.seed
        assert all(s.seed == run.seed for s in run.recipe.stages.values())
    if name == "joint_training":  # the language-model stages' data filtered by modality
        kept = {}
        for run in plan.runs:
            lm_datasets = {s.dataset or n for n, s in run.recipe.stages.items() if s.kind == "lm"}
            datasets = run.recipe.data.datasets
            kept[run.variant] = {tuple(datasets[d].modalities or ["all"]) for d in lm_datasets}
        assert kept == {"joint": {("all",)}, "video_only": {("video",)}, "image_only": {("image",)}}
    else:
        image = {r.variant: r.recipe.model.encoders["image"].plugin for r in plan.runs}
        assert image == {"united": "languagebind_image", "separated_clip": "clip", "separated_mae": "mae"}


def test_the_preference_sweep_pits_dpo_against_supervised_training_on_the_chosen_answers():
    plan = load_plan(ROOT / "mmbind" / "recipes" / "ablations" / "preference.yaml")
    assert plan.sweep.seeds == [0, 1, 2] and list(plan.sweep.variants) == ["sft", "dpo"]  # sft: the baseline
    assert len(plan.runs) == 6
    for run in plan.runs:
        stages = run.recipe.stages
        assert list(stages)[-2:] == ["finetune", "preference"]  # both continue the stage-2 model
        last = stages["preference"]
        assert (last.kind, last.dataset) == (("dpo", "preference") if run.variant == "dpo"
                                             else ("lm", "preference_chosen"))
        assert last.max_steps == 120 and all(s.seed == run.seed for s in stages.values())
    dpo = next(r for r in plan.runs if r.variant == "dpo").recipe
    sft = next(r for r in plan.runs if r.variant == "sft").recipe
    same = {k: v for k, v in dpo.stages["preference"].model_dump().items() if k not in ("kind", "dataset",
                                                                                        "options")}
    assert same == {k: v for k, v in sft.stages["preference"].model_dump().items()
                    if k not in ("kind", "dataset", "options")}  # the same steps, batch, lr: a fair control
    assert any(m.key == "image_pope.*.yes_ratio" for m in plan.sweep.metrics)
