"""mmbind.checkpoints

Reading weights that were written by other projects (LanguageBind, Video-LLaVA, transformers) from local
files, and loading them strictly into a module. Nothing here downloads.
"""

from mmbind.checkpoints.local_weights import load_strict, read_state_dict, strip_prefix

__all__ = ["load_strict", "read_state_dict", "strip_prefix"]
