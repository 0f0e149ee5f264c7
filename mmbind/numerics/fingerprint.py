"""fingerprint.py

The numerics fingerprint: what decides the bits a run computes -- the mode, torch's version, the CPU
kernels' capability, the BLAS and oneDNN builds and their settings, thread counts, deterministic
algorithms, device and number of ranks (plus, in the default mode, the processor, whose model MKL picks its
code path by). ``RUN/numerics.json`` records the fingerprint a run was trained under (and any other it was
resumed under); `fingerprint_id` names it shortly, and two runs trained under different numerics have
different ids. In the reproducible mode the processor is left out of the id: that is the point of the mode.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

from mmbind.numerics.pin import pinned_threads

NUMERICS_FILE = "numerics.json"  # RUN/numerics.json


def fingerprint(device: Any = None, world_size: int = 1) -> dict[str, Any]:
    """This process's numerics (``device``: the torch device the run computes on; CPU when None)."""
    import torch

    pinned = pinned_threads() is not None
    return {
        "mode": "reproducible" if pinned else "default",
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "blas": _blas(torch),
        "threads": {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()},
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "device": _device(torch, device),
        "world_size": world_size,
        "cpu": _cpu_model(),
    }


def fingerprint_id(fp: dict[str, Any] | None) -> str:
    """A short name of the numerics ``fp`` stands for (``unknown`` for a run from before fingerprints)."""
    if not fp:
        return "unknown"
    key = {k: v for k, v in fp.items() if not (k == "cpu" and fp.get("mode") == "reproducible")}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:8]


def fingerprint_text(fp: dict[str, Any] | None) -> str:
    """One line for people: ``reproducible, torch 2.x, DEFAULT kernels, 1 thread, cpu``."""
    if not fp:
        return "unknown (no numerics.json: trained before fingerprints were recorded)"
    threads = fp.get("threads", {}).get("intra_op")
    ranks = fp.get("world_size", 1)
    text = (f"{fp.get('mode')}, torch {fp.get('torch')}, {fp.get('cpu_capability')} kernels, "
            f"{threads} thread{'s' if threads != 1 else ''}, {fp.get('device')}")
    return text + (f" x {ranks} ranks" if ranks != 1 else "")


def record_run_numerics(run_dir: Path, fp: dict[str, Any], resume: bool) -> dict[str, Any]:
    """Write (or, on resume, update) ``RUN/numerics.json``: the fingerprint of the first start, and every
    other one the run was resumed under. Returns the file's content."""
    path = Path(run_dir) / NUMERICS_FILE
    stored = read_run_numerics(run_dir) if resume else None
    if stored is None:
        data: dict[str, Any] = {"version": 1, "fingerprint": fp, "resumed_under": []}
    else:
        data = stored
        known = [stored.get("fingerprint"), *stored.get("resumed_under", [])]
        if fingerprint_id(fp) not in {fingerprint_id(k) for k in known}:
            data["resumed_under"] = [*stored.get("resumed_under", []), fp]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return data


def read_run_numerics(run_dir: Path) -> dict[str, Any] | None:
    """``RUN/numerics.json`` (None when missing or unreadable)."""
    try:
        data = json.loads((Path(run_dir) / NUMERICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("fingerprint"), dict) else None


def _blas(torch: Any) -> dict[str, Any]:
    config = torch.__config__.show().splitlines()
    mkl = next((line.strip(" -") for line in config if "Math Kernel Library" in line), None)
    onednn = next((line.strip(" -") for line in config if "MKL-DNN" in line or "oneDNN" in line), None)
    return {
        "mkl": mkl if torch.backends.mkl.is_available() else None,
        "mkl_cbwr": os.environ.get("MKL_CBWR"),
        "onednn": onednn if torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled else None,
        "onednn_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
    }


def _device(torch: Any, device: Any) -> str:
    kind = getattr(device, "type", str(device or "cpu"))
    if kind == "cuda" and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda})"
    return kind


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
