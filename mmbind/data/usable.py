"""usable.py

`require_usable`: before a stage trains, its dataset must hold at least one sample that prepares without
error. Samples are prepared in index order until one works (for sound data: the first one, so the check
costs one sample); when none does, the stage fails with `NoUsableDataError` (exit code 3) naming the
dataset, the count and the first reasons, instead of "training" on nothing and saving an untrained model.
"""

from __future__ import annotations

from typing import Any, Protocol

from mmbind.data.example import BadSample
from mmbind.errors import NoUsableDataError


class PreparedSamples(Protocol):
    """A map-style dataset whose items are prepared samples or `BadSample`s."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


def require_usable(dataset: PreparedSamples, where: str) -> None:
    """`NoUsableDataError` unless some sample of ``dataset`` prepares (``where``: the stage and dataset)."""
    reasons: list[str] = []
    for index in range(len(dataset)):
        item = dataset[index]
        if not isinstance(item, BadSample):
            return
        reasons.append(item.reason)
    shown = "; ".join(reasons[:3]) + (f"; ... ({len(reasons) - 3} more)" if len(reasons) > 3 else "")
    raise NoUsableDataError(
        f"{where}: no usable sample: all {len(reasons)} sample(s) are bad, nothing to train on"
        + (f" ({shown})" if shown else "")
    )
