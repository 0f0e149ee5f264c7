"""The output writer: a file is replaced whole or not at all, and every OS error is one `WriteError`
naming the path and the reason (a real path under a file, a simulated full disk)."""

from __future__ import annotations

import errno
import os

import pytest

from mmbind.errors import StorageError, WriteError
from mmbind.output_files import as_write_error, make_folder, write_text_atomic


def test_a_failed_replace_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "results.json"
    write_text_atomic(target, "old")
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(WriteError, match=rf"^cannot write the results {target}: no space left on the device "
                                         r"\(ENOSPC\)$"):
        write_text_atomic(target, "new", "the results")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_a_path_under_a_file_is_one_write_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(WriteError, match=r"file/out: a part of the path is a file, not a folder \(ENOTDIR\)"):
        make_folder(tmp_path / "file" / "out")
    with pytest.raises(WriteError, match=r"file name too long \(ENAMETOOLONG\)"):
        write_text_atomic(tmp_path / ("x" * 300), "text")
    assert issubclass(StorageError, WriteError)


def test_os_errors_of_a_command_are_write_errors_only_when_they_are_about_its_output(tmp_path):
    out = tmp_path / "out"
    full = OSError(errno.ENOSPC, "No space left on device")
    assert "no space left" in str(as_write_error(full, [out]))
    denied = PermissionError(errno.EACCES, "Permission denied", str(out / "a" / "b.json"))
    assert str(as_write_error(denied, [out])) == f"cannot write {out}: permission denied (EACCES)"
    staging = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".out.partial-1"))
    assert as_write_error(staging, [out]) is not None
    elsewhere = FileNotFoundError(errno.ENOENT, "No such file", str(tmp_path / "input.json"))
    assert as_write_error(elsewhere, [out]) is None and as_write_error(full, []) is None
