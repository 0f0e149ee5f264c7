"""Fixtures of the shard tests: a small dataset written as shards once per module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.shards import shard
from tests.support.train import make_data


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shards")
    data = make_data(root / "data", images=3, videos=3, text_only=2)
    assert shard(root / "shards", data / "finetune.json").shards >= 3
    return root / "shards"
