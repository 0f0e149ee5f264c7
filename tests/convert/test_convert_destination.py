"""convert / export destinations: never the source, a non-empty folder only with --overwrite (replaced
whole, no stale files), and a failed conversion leaves the old destination untouched."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from mmbind import ConversionError
from mmbind.cli.main import main
from mmbind.convert import convert_hf, export_hf
from tests.support.hf_tiny import save_tiny


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dest")
    save_tiny(root / "hf")
    return root / "hf", convert_hf(root / "hf", root / "mm")


def tree(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_the_source_and_folders_around_it_are_refused(converted, capsys):
    hf, mm = converted
    before = tree(mm)
    for dst in (mm, mm / "inside", mm.parent):
        with pytest.raises(ConversionError, match=r"is, holds or lies inside the source"):
            export_hf(mm, dst, overwrite=True)
    assert main(["export", "hf", str(mm), str(mm)]) == 1
    assert "is, holds or lies inside the source" in capsys.readouterr().err
    assert tree(mm) == before and not (mm / "inside").exists()


def test_non_empty_destination_needs_overwrite_and_is_replaced_whole(converted, tmp_path, capsys):
    hf, mm = converted
    out = tmp_path / "out"
    out.mkdir()
    (out / "model-00002-of-00002.safetensors").write_bytes(b"stale shard")
    assert main(["export", "hf", str(mm), str(out)]) == 2
    assert capsys.readouterr().err.strip().endswith(
        f"{out}: directory is not empty, it holds a model checkpoint (model-00002-of-00002.safetensors); "
        "pass --overwrite to replace it")
    assert tree(out) == {"model-00002-of-00002.safetensors": b"stale shard"}
    assert main(["export", "hf", str(mm), str(out), "--overwrite"]) == 0
    assert "model-00002-of-00002.safetensors" not in tree(out) and (out / "config.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left behind
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConversionError, match="exists and is not a directory"):
        convert_hf(hf, tmp_path / "file", overwrite=True)


def test_a_failed_conversion_leaves_the_old_destination(converted, tmp_path):
    hf, mm = converted
    broken = tmp_path / "broken"
    save_tiny(broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConversionError):
        convert_hf(broken, out, overwrite=True)
    assert (tree(out) == {"keep.txt": b"mine"}
            and sorted(p.name for p in tmp_path.iterdir()) == ["broken", "out"])


def test_an_impossible_or_full_destination_is_one_message_and_leaves_nothing(converted, tmp_path, capsys,
                                                                           monkeypatch):
    hf, mm = converted
    (tmp_path / "file").write_text("x")
    assert main(["export", "hf", str(mm), str(tmp_path / "file" / "out")]) != 0
    err = capsys.readouterr().err
    assert "file/out" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    real_open = open

    def full_disk(file, mode="r", *args, **kwargs):  # every file the export writes finds the disk full
        if any(m in mode for m in "wax") and str(tmp_path) in str(file):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_disk)
    assert main(["export", "hf", str(mm), str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert "(ENOSPC)" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no destination, no staging folder left
