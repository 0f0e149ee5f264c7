"""Two simulated machines (processes with other ATen CPU capabilities and thread counts) train the tiny
recipe: in the reproducible mode their logged losses and final weights are bit-identical; in the default
mode they are not (so the first check can fail)."""

from __future__ import annotations

import json

import pytest

from tests.support.helpers import bit_identical
from tests.support.numerics import MACHINES, final_weights, train_short
from tests.support.train import logged_losses, make_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("numerics-data"))


@pytest.mark.parametrize("reproducible", [True, False], ids=["reproducible", "default"])
def test_two_machines(data, tmp_path, reproducible):
    runs = [train_short(data, tmp_path / name, env, reproducible) for name, env in MACHINES.items()]
    losses = [logged_losses(run) for run in runs]
    assert len(losses[0]) == 9 and [r[:2] for r in losses[0]] == [r[:2] for r in losses[1]]
    same_weights = bit_identical(final_weights(runs[0]), final_weights(runs[1]))
    fingerprints = [json.loads((run / "numerics.json").read_text())["fingerprint"] for run in runs]
    if reproducible:
        assert losses[0] == losses[1]
        assert same_weights
        assert fingerprints[0] == fingerprints[1]
        assert fingerprints[0]["mode"] == "reproducible" and fingerprints[0]["cpu_capability"] == "DEFAULT"
        assert fingerprints[0]["threads"] == {"intra_op": 1, "inter_op": 1}
        assert fingerprints[0]["deterministic"]
    else:
        assert losses[0] != losses[1] or not same_weights
        assert fingerprints[0]["mode"] == "default"
        assert [f["threads"]["intra_op"] for f in fingerprints] == [1, 2]
        assert fingerprints[0] != fingerprints[1]
