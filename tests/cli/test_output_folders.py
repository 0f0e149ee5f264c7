"""One rule for what a command writes over (`mmbind.output_folder`), through the real command line: a folder
holding someone else's content (a trained checkpoint, a user's notes) is refused by every command that
writes, with one message naming the folder, what it holds and --overwrite, and left byte for byte as it
was; --overwrite replaces it whole; a command's own earlier output is still continued without the flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import mmbind.ablate
from mmbind.cli.main import main
from mmbind.errors import OutputFolderError
from mmbind.output_folder import (
    ABLATE,
    BENCH,
    BENCHMARK,
    CHECKPOINT,
    CONVERT,
    DATASET,
    DEMO,
    DEMO_OUT,
    INFER,
    RUN,
    SHARD,
    SHARDS,
    SWEEP,
    SYNTH,
    TRAIN,
    OutputRule,
    replace_folder,
)
from tests.support.ablate import FakeRunner, fake_dataset, write_sweep
from tests.support.helpers import cli
from tests.support.synth import tree_hashes
from tests.support.train import TRAIN_RECIPE, data_overrides, make_data

CONTENTS = {  # someone else's content: a trained checkpoint, a user's own file
    "checkpoint": ({"config.json": b'{"model_type": "llava"}\n', "model.safetensors": b"\x08\x00weights"},
                   "a model checkpoint (config.json, model.safetensors)"),
    "notes": ({"notes.txt": b"my notes\n"}, "other files (notes.txt)"),
}




def someone_elses(folder: Path, content: str) -> dict[str, str]:
    """Fill ``folder`` with one of `CONTENTS`; returns its file hashes."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in CONTENTS[content][0].items():
        (folder / name).write_bytes(data)
    return tree_hashes(folder)


def argv_for(command: str, tmp_path: Path, out: Path) -> list[object]:
    """The command line of ``command`` writing into ``out`` (its other inputs need not exist: the output
    is checked before anything is read)."""
    src, run = tmp_path / "src", tmp_path / "run"
    if command == "ablate":
        return ["ablate", write_sweep(tmp_path, fake_dataset(tmp_path / "data")), "--output", out]
    return {
        "demo --compose-only": ["demo", "--compose-only", "--out", out],
        "demo": ["demo", "--out", out, "--size", "micro", "--no-progress"],
        "train": ["train", TRAIN_RECIPE, "--output", out, "--no-progress"],
        "data synth": ["data", "synth", out, "--size", "micro"],
        "data shard": ["data", "shard", src / "train.json", "--out", out, "--no-progress"],
        "convert": ["convert", "hf", src, out],
        "export": ["export", "hf", src, out],
        "eval --benchmark": ["eval", run, "--benchmark", "tgif_qa", "--data", tmp_path / "tgif",
                             "--output", out],
    }[command]


COMMANDS = ("demo --compose-only", "demo", "train", "data synth", "data shard", "convert", "export",
            "eval --benchmark", "ablate")


@pytest.mark.parametrize("content", sorted(CONTENTS))
@pytest.mark.parametrize("command", COMMANDS)
def test_someone_elses_folder_is_refused_and_left_untouched(command, content, tmp_path, capsys):
    out = tmp_path / "theirs"
    before = someone_elses(out, content)
    code, _, err = cli(capsys, *argv_for(command, tmp_path, out))
    assert code == OutputFolderError.exit_code != 0
    assert err == (f"error: {out}: directory is not empty, it holds {CONTENTS[content][1]}; pass --overwrite "
                   "to replace it")
    assert tree_hashes(out) == before  # byte for byte, nothing added
    assert sorted(p.name for p in out.iterdir()) == sorted(CONTENTS[content][0])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder either


@pytest.mark.parametrize("content", sorted(CONTENTS))
def test_infer_refuses_a_file_that_is_not_its_answers(content, tmp_path, capsys):
    name, data = next(iter(CONTENTS[content][0].items()))
    theirs = tmp_path / name
    theirs.write_bytes(data)
    code, _, err = cli(capsys, "infer", tmp_path / "run", "-i", tmp_path / "q.jsonl", "-o", theirs)
    assert code == 2 and err == (f"error: {theirs}: file is not empty and is not an answers file of mmbind "
                                 "infer (JSON lines with id and answer); pass --overwrite to replace it")
    assert theirs.read_bytes() == data


def test_the_same_rule_and_flag_in_every_command_help(capsys):
    for argv in (["demo"], ["train"], ["data", "synth"], ["data", "shard"], ["convert"], ["export"], ["eval"],
                 ["ablate"], ["infer"]):
        with pytest.raises(SystemExit):
            main([*argv, "--help"])
        assert "--overwrite" in capsys.readouterr().out, argv
    with pytest.raises(SystemExit):
        main(["data", "synth", "--help"])
    assert "--force" not in capsys.readouterr().out  # the deprecated alias is hidden


def own_folders(root: Path) -> dict[str, Path]:
    """One folder per kind of output, holding what that kind always holds (its markers)."""
    files = {"run": ["recipe.yaml", "recipe.lock.json"], "sweep": ["a/seed0/recipe.yaml", "results.md"],
             "demo compose": ["demo.json", "mmbind_config.json", "model.safetensors"],
             "demo study": ["data/manifest.json", "run/recipe.yaml", "run/summary.json"],
             "dataset": ["manifest.json", "pretrain.json"],
             "benchmark": ["generation.json", "predictions.jsonl"],
             "shards": [".progress.json", "index.json", "shard-000000.tar"]}
    folders = {}
    for name, paths in files.items():
        for path in paths:
            (root / name / path).parent.mkdir(parents=True, exist_ok=True)
            (root / name / path).write_text("{}\n")
        folders[name] = root / name
    return folders


def test_each_command_continues_its_own_kind_of_folder_and_refuses_every_other(tmp_path):
    folders = own_folders(tmp_path)
    own: dict[OutputRule, set[str]] = {DEMO_OUT: {"demo compose", "demo study"}, ABLATE: {"sweep"},
                                       BENCH: {"benchmark"}, SHARD: {"shards"}, TRAIN: set(), SYNTH: set(),
                                       CONVERT: set()}
    for rule, mine in own.items():
        for name, folder in folders.items():
            before = tree_hashes(folder)
            if name in mine:
                assert rule.claim(folder, overwrite=False) == "own", (rule.command, name)
            else:
                with pytest.raises(OutputFolderError, match="--overwrite"):
                    rule.claim(folder, overwrite=False)
            assert rule.claim(folder, overwrite=True) == "replace" and tree_hashes(folder) == before
    # train and data synth refuse their own earlier output, each with its own message
    with pytest.raises(OutputFolderError, match="a run already lives here; resume it with --resume .*, or "
                                                "pass --overwrite to start it over"):
        TRAIN.claim(folders["run"], overwrite=False)
    with pytest.raises(OutputFolderError, match=r"pass --overwrite to replace a generated dataset"):
        SYNTH.claim(folders["dataset"], overwrite=False)
    with pytest.raises(OutputFolderError, match="it holds a training run"):
        DEMO_OUT.claim(folders["run"], overwrite=False)


def test_the_markers_are_the_files_the_commands_write():
    from mmbind.ablate.state import MARKER
    from mmbind.dataset_manifest import MANIFEST
    from mmbind.eval.predict import GENERATION, PREDICTIONS
    from mmbind.model.config import CONFIG_NAME
    from mmbind.run_folder import RECIPE_FILE, SUMMARY_FILE
    from mmbind.shards.write import PROGRESS
    from mmbind.train.recipe_lock import LOCK_FILE

    assert set(RUN.markers) == {RECIPE_FILE, LOCK_FILE, SUMMARY_FILE}
    assert {f"*/seed*/{MARKER}", *(f"*/seed*/{m}" for m in RUN.markers)} <= set(SWEEP.markers)
    assert {f"data/{MANIFEST}", *(f"run/{m}" for m in RUN.markers), DEMO.stamp} <= set(DEMO.markers)
    assert DATASET.markers == (MANIFEST,) and CHECKPOINT.markers == (CONFIG_NAME,)
    assert set(BENCHMARK.markers) == {GENERATION, PREDICTIONS}
    assert SHARDS.markers == (PROGRESS,)


def test_empty_folders_are_new_and_a_replaced_link_leaves_its_target(tmp_path):
    empty = tmp_path / "empty"
    (empty / "sub" / "deeper").mkdir(parents=True)
    assert DEMO_OUT.claim(empty, overwrite=False) == "new" == DEMO_OUT.claim(tmp_path / "missing", False)
    target = tmp_path / "elsewhere"
    before = someone_elses(target, "notes")
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)
    assert DEMO_OUT.claim(link, overwrite=True) == "replace"
    replace_folder(link)
    assert not link.exists() and not link.is_symlink() and tree_hashes(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "empty"]


def test_a_folder_holding_the_working_directory_or_an_input_is_never_replaced(tmp_path, monkeypatch):
    outer = tmp_path / "outer"
    someone_elses(outer, "notes")
    (outer / "inner").mkdir()
    monkeypatch.chdir(outer / "inner")
    with pytest.raises(OutputFolderError, match="holds the working directory; not replacing it"):
        TRAIN.claim(outer, overwrite=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputFolderError, match=r"holds the input .*notes.txt; not replacing it"):
        TRAIN.claim(outer, overwrite=True, inputs=[outer / "notes.txt"])
    assert (outer / "notes.txt").is_file()


def test_an_answers_file_torn_by_an_interrupted_run_is_still_infers_own(tmp_path):
    answers = tmp_path / "a.jsonl"
    answers.write_text('{"id": "1", "answer": "x"}\n{"id": "2", "ans\n{"id": "3", "answer": "y"}\n{"id": "4')
    assert INFER.claim(answers, overwrite=False) == "own"
    answers.write_text('{"id": "1", "answer": "x"}\nmy own line\n')
    with pytest.raises(OutputFolderError, match="is not an answers file"):
        INFER.claim(answers, overwrite=False)
    with pytest.raises(OutputFolderError, match="is the input"):
        INFER.claim(answers, overwrite=True, inputs=[answers])


@pytest.mark.slow
def test_demo_compose_replaces_a_checkpoint_with_overwrite_then_reuses_its_folder(tmp_path, capsys):
    out = tmp_path / "demo"
    someone_elses(out, "checkpoint")
    (out / "notes.txt").write_text("mine")
    code, stdout, _ = cli(capsys, "demo", "--compose-only", "--out", out, "--overwrite")
    assert code == 0 and f"saved to {out};" in " ".join(stdout.split())
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert {"demo.json", "mmbind_config.json", "model.safetensors"} <= files
    assert not {"config.json", "notes.txt"} & files and (out / "model.safetensors").stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # the staging folder became it
    code, stdout, _ = cli(capsys, "demo", "--compose-only", "--out", out)  # its own folder: no flag needed
    assert code == 0 and "reloaded model generates the same tokens: True" in " ".join(stdout.split())


def test_demo_study_replaces_another_folder_before_it_starts(tmp_path, capsys, monkeypatch):
    out = tmp_path / "demo"
    someone_elses(out, "checkpoint")
    seen = []

    def stop(paths, size, seed):  # the study's first step: record the folder as it finds it, then stop
        seen.append(sorted(p.name for p in paths.root.iterdir()))
        raise KeyboardInterrupt

    monkeypatch.setattr("mmbind.demo.study.ensure_data", stop)
    assert cli(capsys, "demo", "--out", out, "--size", "bogus", "--overwrite")[0] == 2  # checked first
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"] and not seen
    default_numerics = "numerics.reproducible=false"  # the study recipe's mode needs a process of its own
    assert cli(capsys, "demo", "--out", out, "--size", "micro", "--overwrite", default_numerics)[0] == 130
    assert seen == [["demo.json"]]
    assert cli(capsys, "demo", "--out", out, "--size", "micro", default_numerics)[0] == 130  # its own folder
    assert len(seen) == 2


@pytest.mark.slow
def test_train_overwrite_replaces_the_folder_and_a_run_there_is_refused_without_it(tmp_path, capsys):
    data = make_data(tmp_path / "data", images=2, videos=2, text_only=1)
    out = tmp_path / "theirs"
    someone_elses(out, "checkpoint")
    steps = ["stages.pretrain.max_steps=1", "stages.finetune.max_steps=1"]
    argv = ["train", TRAIN_RECIPE, *data_overrides(data), *steps, "--output", out, "--no-progress"]
    code, _, err = cli(capsys, *argv, "--overwrite")
    assert code == 0, err
    assert (out / "stages" / "finetune" / "model.safetensors").is_file()
    assert not (out / "config.json").exists()
    assert json.loads((out / "summary.json").read_text())["status"] == "done"
    code, _, err = cli(capsys, *argv)
    assert code == 2 and err == (f"error: {out}: a run already lives here; resume it with --resume {out}, or "
                                 "pass --overwrite to start it over")
    code, _, err = cli(capsys, "train", "--resume", out, "--overwrite")
    assert code == 2 and "cannot resume one" in err


def test_data_synth_overwrite_replaces_another_folder_whole(micro, tmp_path, capsys):
    out = tmp_path / "data"
    someone_elses(out, "notes")
    assert cli(capsys, "data", "synth", out, "--size", "micro", "--overwrite")[0] == 0
    assert tree_hashes(out) == tree_hashes(micro)  # the seed-0 micro dataset, nothing else, wherever staged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_eval_benchmark_overwrite_replaces_another_folder_and_resumes_its_own(run, micro, tmp_path, capsys):
    from tests.support.bench import videoqa_folder

    data = videoqa_folder(micro, tmp_path / "tgif", n=2, split=False)
    out = tmp_path / "results"
    someone_elses(out, "checkpoint")
    argv = ["eval", run, "--benchmark", "tgif_qa", "--data", data, "--output", out, "--max-new-tokens", 2,
            "--json"]
    code, stdout, err = cli(capsys, *argv, "--overwrite")
    assert code == 0, err
    assert json.loads(stdout)["generated_now"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["generation.json", "predictions.jsonl", "results.json"]
    code, stdout, err = cli(capsys, *argv)  # its own results: continued, nothing generated again
    assert code == 0 and json.loads(stdout)["reused"] == 2, err


def test_infer_overwrite_replaces_a_file_and_resumes_its_own(run, micro, tmp_path, capsys):
    questions, answers = tmp_path / "q.jsonl", tmp_path / "notes.txt"
    image = sorted((micro / "eval" / "images").glob("*.png"))[0]
    questions.write_text(json.dumps({"id": "a", "question": "What colour?", "image": str(image)}) + "\n"
                         + json.dumps({"id": "b", "question": "Say hello."}) + "\n")
    answers.write_text("my notes\n")
    argv = ["infer", run, "-i", questions, "-o", answers, "--max-new-tokens", 2]
    code, stdout, err = cli(capsys, *argv, "--overwrite")
    assert code == 0, err
    assert sorted(json.loads(line)["id"] for line in answers.read_text().splitlines()) == ["a", "b"]
    code, stdout, _ = cli(capsys, *argv)  # its own answers: appended to, every id already there
    assert code == 0 and "2 already in" in " ".join(stdout.split())


def test_ablate_overwrite_replaces_another_folder_or_starts_a_sweep_over(tmp_path, capsys, monkeypatch):
    runners: list[FakeRunner] = []

    def runner(*args, **kwargs) -> FakeRunner:
        runners.append(FakeRunner())
        return runners[-1]

    monkeypatch.setattr(mmbind.ablate, "LocalRunner", runner)
    out = tmp_path / "sweep"
    someone_elses(out, "checkpoint")
    sweep = write_sweep(tmp_path, fake_dataset(tmp_path / "data"), seeds=[0])
    argv = ["ablate", sweep, "--output", out, "--no-progress"]
    assert cli(capsys, *argv, "--overwrite")[0] == 0
    assert [c[0] for c in runners[-1].calls].count("train") == 2 and not (out / "config.json").exists()
    assert (out / "results.md").is_file()
    assert cli(capsys, *argv)[0] == 0 and runners[-1].calls == []  # its own sweep: everything done, skipped
    stored = out / "a" / "seed0" / "recipe.yaml"  # a run of another recipe: refused, unless starting over
    stored.write_text(yaml.safe_dump({**yaml.safe_load(stored.read_text()), "name": "edited"}))
    code, _, err = cli(capsys, *argv)
    assert code == 2 and "holds a run of another recipe" in err
    assert cli(capsys, *argv, "--overwrite")[0] == 0
    assert [c[0] for c in runners[-1].calls].count("train") == 2
    with pytest.raises(SystemExit) as stopped:  # starting over and only tabulating exclude each other
        main([str(a) for a in argv] + ["--overwrite", "--report-only"])
    assert stopped.value.code == 2 and "not allowed with argument --overwrite" in capsys.readouterr().err
