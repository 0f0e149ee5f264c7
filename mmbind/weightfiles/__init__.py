"""mmbind.weightfiles

Reading weights that were written by other projects (LanguageBind, Video-LLaVA, transformers) from local
files, and loading them strictly into a module. Nothing here downloads. `weight_files` is the one place that
finds weight files in a directory and reads them (the converters use it with `CONVERSION` wording). Where a
part's weights sit inside its own project's checkpoints (e.g. LanguageBind's layout) is its plugin's
business.
"""

from mmbind.weightfiles.local_weights import load_strict, read_state_dict, strip_ddp_prefix, strip_prefix
from mmbind.weightfiles.weight_files import (
    CHECKPOINT,
    CONVERSION,
    Wording,
    find_weight_files,
    iter_weights,
    read_shapes,
    read_weight_file,
    shard_files,
    standard_weight_files,
)

__all__ = [
    "CHECKPOINT",
    "CONVERSION",
    "Wording",
    "find_weight_files",
    "iter_weights",
    "load_strict",
    "read_shapes",
    "read_state_dict",
    "read_weight_file",
    "shard_files",
    "standard_weight_files",
    "strip_ddp_prefix",
    "strip_prefix",
]
