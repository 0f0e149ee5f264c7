"""Allows ``python -m mmbind ...`` (and ``torchrun -m mmbind ...``)."""

import sys

from mmbind.cli.main import main

sys.exit(main())
