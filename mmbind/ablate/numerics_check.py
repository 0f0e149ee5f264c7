"""numerics_check.py

Which numerics each run of a sweep was trained and evaluated under (``RUN/numerics.json`` and the
fingerprint in the run's ``ablate.json`` marker, `mmbind.numerics`), and the refusal to pair two runs whose
numerics differ: a paired comparison of a variant with the baseline would then measure the machines as
much as the variants. ``--allow-mixed-numerics`` lets them be paired anyway; the table then says the
numerics are mixed either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmbind.ablate.state import MARKER, read_json
from mmbind.errors import NumericsError
from mmbind.numerics import fingerprint_id, fingerprint_text, read_run_numerics


@dataclass(frozen=True)
class RunNumerics:
    """A run's numerics: an id (equal ids, equal numerics) and a line for people."""

    id: str
    text: str


def run_numerics(run_dir: Path) -> RunNumerics:
    """The numerics ``run_dir`` was trained under (every fingerprint of a resumed run) and evaluated under
    when that differs (``unknown`` for a run from before fingerprints)."""
    stored = read_run_numerics(run_dir)
    trained: list[dict[str, Any] | None] = [None]
    if stored is not None:
        trained = [stored["fingerprint"], *stored.get("resumed_under", [])]
    marker = read_json(run_dir / MARKER) or {}
    evaluated = marker.get("numerics") if isinstance(marker.get("numerics"), dict) else None
    ids = [fingerprint_id(fp) for fp in trained]
    text = fingerprint_text(trained[0]) + (" (resumed under other numerics)" if len(trained) > 1 else "")
    if evaluated is not None and fingerprint_id(evaluated) not in ids:
        ids.append(f"eval:{fingerprint_id(evaluated)}")
        text += f"; evaluated under {fingerprint_text(evaluated)}"
    return RunNumerics("+".join(ids), text)


def check_pairs(pairs: list[tuple[str, str, RunNumerics, RunNumerics]], allow: bool) -> None:
    """Refuse (one `NumericsError` naming every pair) to compare runs of different numerics unless
    ``allow``; ``pairs``: (run, baseline run, their numerics) the comparisons would pair."""
    mixed = [p for p in pairs if p[2].id != p[3].id]
    if not mixed or allow:
        return
    listed = "; ".join(f"{a} [{na.id}: {na.text}] with {b} [{nb.id}: {nb.text}]" for a, b, na, nb in mixed)
    raise NumericsError(
        f"refusing to compare runs trained under different numerics: {listed}. Retrain them under one "
        "(e.g. all with --reproducible, which gives the same bits on any x86-64 machine), or pass "
        "--allow-mixed-numerics to compare them anyway"
    )
