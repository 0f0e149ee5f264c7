"""A short tiny training run in the reproducible numerics mode logs exactly the losses stored in the
repository (tests/train/expected/), as torchtune's recipe tests compare loss curves: any change of what
training computes shows here, on any x86-64 machine. After an intended change (or a torch upgrade), store
the new curve with ``MMBIND_WRITE_EXPECTED=1 pytest tests/train/test_expected_losses.py`` and say why in the
commit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from tests.support.numerics import MACHINES, train_short
from tests.support.train import logged_losses, make_data

EXPECTED = Path(__file__).parent / "expected" / "tiny_train_reproducible.json"


@pytest.mark.slow
def test_logged_losses_match_the_stored_curve(tmp_path):
    data = make_data(tmp_path / "data")
    run = train_short(data, tmp_path / "run", MACHINES["avx512-2threads"], reproducible=True)
    losses = [[stage, step, loss] for stage, step, loss in logged_losses(run)]
    if os.environ.get("MMBIND_WRITE_EXPECTED") == "1":
        rows = ",\n  ".join(json.dumps(row) for row in losses)
        EXPECTED.write_text(f'{{"torch": "{torch.__version__}",\n "losses": [\n  {rows}\n ]}}\n')
    expected = json.loads(EXPECTED.read_text())
    assert losses == expected["losses"], (
        f"the logged losses differ from {EXPECTED} (stored with torch {expected['torch']}, this is "
        f"{torch.__version__}); if the change is intended, rerun with MMBIND_WRITE_EXPECTED=1")
