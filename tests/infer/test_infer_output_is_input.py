"""``mmbind infer --output`` naming the ``--input`` file (the same path, a relative spelling, a symbolic or a
hard link, with or without ``--overwrite``) is a usage error, exit 2, before anything is loaded or written:
answering into the questions file would destroy it."""

from __future__ import annotations

import os

import pytest

from tests.support.helpers import cli

ROWS = '{"id": "a", "question": "what is it?"}\n'


def spellings(questions):
    """Other names of ``questions``: as given, through ``..``, a symbolic link, a hard link."""
    folder = questions.parent
    (folder / "sym.jsonl").symlink_to(questions.name)
    os.link(questions, folder / "hard.jsonl")
    return {"same": questions, "dotted": folder / ".." / folder.name / questions.name,
            "symlink": folder / "sym.jsonl", "hardlink": folder / "hard.jsonl"}


@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("spelling", ["same", "dotted", "symlink", "hardlink"])
def test_the_output_may_not_be_the_input(tmp_path, capsys, spelling, overwrite):
    questions = tmp_path / "q" / "questions.jsonl"
    questions.parent.mkdir()
    questions.write_text(ROWS, encoding="utf-8")
    output = spellings(questions)[spelling]
    code, out, err = cli(capsys, "infer", tmp_path / "no-run", "--input", questions, "--output", output,
                         *(["--overwrite"] if overwrite else []))
    assert code == 2 and out == ""
    assert f"{output}: is the input {questions}; choose another output" in err and "Traceback" not in err
    assert questions.read_text(encoding="utf-8") == ROWS and not (tmp_path / "no-run").exists()
