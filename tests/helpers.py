"""Small helpers shared by the core tests."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import torch

EXAMPLE_PLUGIN_SRC = Path(__file__).resolve().parent.parent / "examples" / "mmbind-example-encoder"


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
