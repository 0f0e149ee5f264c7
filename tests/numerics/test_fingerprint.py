"""The numerics fingerprint: what it records, its short id, and RUN/numerics.json across a resume."""

from __future__ import annotations

import json

import torch

from mmbind.numerics import (
    fingerprint,
    fingerprint_id,
    fingerprint_text,
    read_run_numerics,
    record_run_numerics,
)


def test_fingerprint_records_this_process():
    fp = fingerprint()
    assert fp["mode"] == "default" and fp["torch"] == torch.__version__
    assert fp["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert fp["threads"]["intra_op"] == torch.get_num_threads() and fp["device"] == "cpu"
    assert set(fp["blas"]) == {"mkl", "mkl_cbwr", "onednn", "onednn_isa"}
    assert fingerprint_text(fp).startswith(f"default, torch {torch.__version__}, ")


def test_fingerprint_id_tells_numerics_apart():
    fp = fingerprint()
    assert fingerprint_id(fp) == fingerprint_id(json.loads(json.dumps(fp)))
    assert fingerprint_id({**fp, "threads": {"intra_op": 7, "inter_op": 1}}) != fingerprint_id(fp)
    assert fingerprint_id({**fp, "cpu": "another processor"}) != fingerprint_id(fp)  # MKL picks by it
    reproducible = {**fp, "mode": "reproducible"}
    assert fingerprint_id({**reproducible, "cpu": "another processor"}) == fingerprint_id(reproducible)
    assert fingerprint_id(None) == "unknown"


def test_numerics_file_keeps_the_first_and_adds_other_resumes(tmp_path):
    first = fingerprint()
    other = {**first, "cpu_capability": "AVX2" if first["cpu_capability"] != "AVX2" else "AVX512"}
    record_run_numerics(tmp_path, first, resume=False)
    record_run_numerics(tmp_path, first, resume=True)
    assert read_run_numerics(tmp_path)["resumed_under"] == []
    record_run_numerics(tmp_path, other, resume=True)
    stored = read_run_numerics(tmp_path)
    assert stored["fingerprint"] == first and stored["resumed_under"] == [other]
    record_run_numerics(tmp_path, first, resume=False)  # a new run starts the file over
    assert read_run_numerics(tmp_path)["resumed_under"] == []


def test_missing_or_broken_file_reads_as_none(tmp_path):
    assert read_run_numerics(tmp_path) is None
    (tmp_path / "numerics.json").write_text("{")
    assert read_run_numerics(tmp_path) is None
