"""Trains the tiny recipe with the third-party ``torch_tiny_lm`` backend (`third_party_llm`), for torchrun:

    python -m torch.distributed.run --nproc-per-node 2 \\
        tests/support/third_party_llm_driver.py DATA RUN [KEY=VALUE ...]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: tests.support

import tests.support.third_party_llm as third_party_llm  # noqa: E402
from mmbind.train import train  # noqa: E402


def main() -> None:
    data, run, *extra = sys.argv[1:]
    train(third_party_llm.tiny_recipe(Path(data), *extra), run, progress=False,
          registry=third_party_llm.registry())


if __name__ == "__main__":
    main()
