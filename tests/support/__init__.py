"""Shared helpers of the test suite: fixtures' builders, tiny models, drivers run in subprocesses.

Imported normally (``from tests.support.train import make_data``); the repository root is on pytest's
``pythonpath``."""
