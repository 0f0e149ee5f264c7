"""A sample's RNG: the CPU generator seeded per (seed, epoch, index) exactly as ``torch.manual_seed`` seeded
it, and restored afterwards."""

from __future__ import annotations

import torch

from mmbind.data.dataset import sample_rng


def test_sample_rng_seeds_the_cpu_generator_as_manual_seed_did():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    with sample_rng(1, 2, 3):
        drawn = torch.rand(4)
    assert torch.equal(torch.get_rng_state(), before)  # restored
    torch.manual_seed(hash((1, 2, 3)) & 0x7FFFFFFF)
    assert torch.equal(drawn, torch.rand(4))
