"""Fault suite, command line: counts that are 0 or negative are usage errors while parsing, an output folder
that is a file (or cannot be created or written) is refused before any work, and a closed stdout pipe ends a
command quietly (status 141, no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mmbind.cli.main import main

NUMERIC = [  # (argv, the option named in the message)
    (["eval", "RUN", "--batch-size", "0"], "--batch-size"),
    (["eval", "RUN", "--batch-size", "-3"], "--batch-size"),
    (["eval", "RUN", "--max-new-tokens", "0"], "--max-new-tokens"),
    (["eval", "RUN", "--limit", "0"], "--limit"),
    (["eval", "RUN", "--limit", "-1"], "--limit"),
    (["eval", "RUN", "--frames", "-2"], "--frames"),
    (["eval", "RUN", "--frames", "two"], "--frames"),
    (["chat", "RUN", "--max-new-tokens", "-5"], "--max-new-tokens"),
    (["chat", "RUN", "--frames", "0"], "--frames"),
    (["eval", "RUN", "--max-frames", "0"], "--max-frames"),
    (["chat", "RUN", "--min-frames", "-1"], "--min-frames"),
]


@pytest.mark.parametrize("argv,option", NUMERIC, ids=[" ".join(a[2:]) + f" ({a[0]})" for a, _ in NUMERIC])
def test_a_count_below_one_is_a_usage_error_while_parsing(argv, option, capsys, tmp_path):
    argv = [str(tmp_path / "run") if a == "RUN" else a for a in argv]
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: expected a positive integer" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing was looked at or written


SAMPLING = [  # (argv, the message)
    (["eval", "RUN", "--fps", "0"], "argument --fps: expected a positive number, got 0"),
    (["chat", "RUN", "--fps", "fast"], "argument --fps: expected a positive number, got 'fast'"),
    (["eval", "RUN", "--fps", "1", "--frames", "8"], "--frames (a fixed count) and --fps (a rate) exclude"),
    (["chat", "RUN", "--max-frames", "16"], "--max-frames / --min-frames apply to sampling by rate"),
    (["infer", "RUN", "-i", "Q", "-o", "A", "--fps", "1", "--max-frames", "4", "--min-frames", "8"],
     "--max-frames 4 is below --min-frames 8"),
    (["serve", "RUN", "--min-frames", "2"], "apply to sampling by rate: add --fps"),
]


@pytest.mark.parametrize("argv,message", SAMPLING, ids=[" ".join(a[2:]) + f" ({a[0]})" for a, _ in SAMPLING])
def test_frame_sampling_options_are_checked_before_any_work(argv, message, capsys, tmp_path):
    argv = [str(tmp_path / a) if a in ("RUN", "Q", "A") else a for a in argv]
    try:
        code = main(argv)
    except SystemExit as caught:  # argparse's own refusals
        code = caught.code
    assert code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert message in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


OUTPUTS = {  # id -> argv with OUT for the bad path
    "train-output": ["train", "tiny/train", "--output", "OUT", "--no-progress"],
    "ablate-output": ["ablate", "ablations/joint_training", "-o", "OUT", "--dry-run"],
    "demo-out": ["demo", "--out", "OUT", "--no-progress"],
    "data-synth-out": ["data", "synth", "OUT"],
}


@pytest.mark.parametrize("inside", [False, True], ids=["is-a-file", "below-a-file"])
@pytest.mark.parametrize("case", sorted(OUTPUTS))
def test_an_output_folder_that_cannot_be_one_fails_before_any_work(case, inside, capsys, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("keep me")
    out = blocker / "run" if inside else blocker
    assert main([str(out) if a == "OUT" else a for a in OUTPUTS[case]]) == 2
    err = " ".join(capsys.readouterr().err.split())
    expected = f"cannot create it, {blocker} is a file" if inside else "exists and is not a folder"
    assert f"error: output folder {out}: {expected}" in err and "Traceback" not in err
    assert blocker.read_text() == "keep me" and sorted(tmp_path.iterdir()) == [blocker]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_an_output_folder_below_a_read_only_folder_fails_before_any_work(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["train", "tiny/train", "--output", str(locked / "run"), "--no-progress"]) == 2
    finally:
        locked.chmod(0o700)
    assert f"cannot create it, {locked} is not writable" in " ".join(capsys.readouterr().err.split())
    assert list(locked.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["plugins", "--json"], ["plugins"], ["recipe", "list"],
                                  ["recipe", "list", "--json"]], ids=" ".join)
def test_a_closed_stdout_pipe_ends_the_command_quietly(argv):
    proc = subprocess.Popen([sys.executable, "-m", "mmbind", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written (`| head -c 0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert err == ""


def test_an_output_file_that_is_a_folder_fails_before_any_work(capsys, tmp_path):
    (tmp_path / "answers").mkdir()
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "1", "question": "Q?"}\n', encoding="utf-8")
    argv = ["infer", str(tmp_path / "no-run"), "-i", str(questions), "-o", str(tmp_path / "answers")]
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: output file {tmp_path / 'answers'}: is a folder, not a file" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers", "q.jsonl"]
    assert not any((tmp_path / "answers").iterdir())
