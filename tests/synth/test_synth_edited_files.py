"""``mmbind data synth --overwrite`` over a generated dataset whose files were edited since (their SHA-256
differs from ``manifest.json``) refuses, naming the edited files and leaving everything as it was, unless
``--discard-edits`` says to replace them too: generated files a user changed are never overwritten
silently."""

from __future__ import annotations

import pytest

from mmbind.cli.main import main
from mmbind.errors import DataError
from mmbind.synth import generate_dataset
from tests.support.helpers import cli


@pytest.fixture
def dataset(tmp_path):
    out = tmp_path / "data"
    generate_dataset(out, size="micro", seed=3)
    return out


def test_edited_generated_files_are_named_and_kept(dataset, capsys):
    edited = dataset / "finetune.json"
    edited.write_text(edited.read_text(encoding="utf-8").replace("red", "crimson"), encoding="utf-8")
    same_size = dataset / "images" / "00000.png"
    data = bytearray(same_size.read_bytes())
    data[-1] ^= 0xFF  # same size, other content: found by its SHA-256
    same_size.write_bytes(bytes(data))
    before = (edited.read_bytes(), same_size.read_bytes())
    code, out, err = cli(capsys, "data", "synth", dataset, "--size", "micro", "--seed", "3", "--overwrite")
    assert code == DataError.exit_code and out == "" and "Traceback" not in err
    assert (f"{dataset}: 2 generated file(s) were edited since (their SHA-256 differs from manifest.json): "
            "finetune.json, images/00000.png; not replacing them (pass --discard-edits to replace them "
            "too)") in err
    assert (edited.read_bytes(), same_size.read_bytes()) == before


def test_discard_edits_replaces_them(dataset, capsys):
    edited = dataset / "pretrain.json"
    original = edited.read_bytes()
    edited.write_text("[]", encoding="utf-8")
    code, _, err = cli(capsys, "data", "synth", dataset, "--size", "micro", "--seed", "3", "--overwrite",
                       "--discard-edits")
    assert code == 0, err
    assert edited.read_bytes() == original


def test_an_unedited_dataset_is_replaced_without_the_flag(dataset, capsys):
    assert main(["data", "synth", str(dataset), "--size", "micro", "--seed", "4", "--overwrite"]) == 0
    assert "seed 4" in " ".join(capsys.readouterr().out.split())  # the summary table may wrap
