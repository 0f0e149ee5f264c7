"""Small helpers shared by the tests: padded token rows, processes of two ranks, dist-info folders for
throw-away plugins, the CLI run in this process (`cli`) and a checked subprocess (`run_command`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import torch

EXAMPLE_PLUGIN_SRC = Path(__file__).resolve().parents[2] / "examples" / "mmbind-example-encoder"


def pad_rows(rows: list[list[int]], side: str = "right", pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token rows into (ids, attention_mask)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(width - len(row), width) if side == "left" else slice(0, len(row))
        ids[i, span] = torch.tensor(row)
        mask[i, span] = 1
    return ids, mask


def run_two_ranks(args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: int = 240) -> str:
    """Run ``torch.distributed.run --standalone --nproc-per-node 2 ARGS``; its output, after asserting it
    succeeded (on a timeout the whole process group, workers too, is killed first)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, cwd=cwd)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    assert proc.returncode == 0, out[-4000:]
    return out


def wait_until_paused(proc: subprocess.Popen, run: Path, timeout: float = 240) -> None:
    """Wait until a training driver writes ``run/PAUSED`` (asserting it is still running meanwhile)."""
    deadline = time.time() + timeout
    while not (run / "PAUSED").exists():
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else proc.returncode
        assert time.time() < deadline, f"{run}: no PAUSED after {timeout} s"
        time.sleep(0.05)


def bit_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    """Whether two state dicts hold the same names, dtypes and bits (safetensors' header order varies per
    process, so compare by name)."""
    flat = lambda t: t.reshape(-1).view(torch.uint8)  # noqa: E731
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and flat(a[k]).equal(flat(b[k])) for k in a)


def make_dist_info(root: Path, name: str, entry_points: dict[str, str], version: str = "0.1.0") -> Path:
    """Write a minimal ``*.dist-info`` with ``mmbind`` entry points into ``root`` (like an installed
    package)."""
    dist = root / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (dist / "entry_points.txt").write_text(f"[mmbind]\n{lines}\n")
    return dist


def write_module(root: Path, name: str, source: str) -> None:
    """Write a plugin module ``name`` into ``root`` (a sys.path entry)."""
    (root / f"{name}.py").write_text(textwrap.dedent(source))


def forget_modules(*names: str) -> None:
    """Drop modules from sys.modules so a test can re-import them from another path."""
    for name in list(sys.modules):
        if any(name == n or name.startswith(n + ".") for n in names):
            del sys.modules[name]


def cli(capsys: Any, *argv: Any) -> tuple[int, str, str]:
    """``mmbind ARGV`` in this process: (exit code, stdout, stderr with whitespace collapsed)."""
    from mmbind.cli.main import main

    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, " ".join(out.err.split())


def run_command(
    command: list[str], cwd: Path, env: dict[str, str], ok: bool = True
) -> subprocess.CompletedProcess:
    """Run ``command`` (15 minutes at most); when ``ok``, assert it succeeded, showing its output if not."""
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if ok:
        assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
    return proc
