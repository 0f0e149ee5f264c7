"""tokenizer_files.py

`has_tokenizer`: whether a checkpoint directory to convert holds tokenizer files (then the converted model
carries its tokenizer).
"""

from __future__ import annotations

from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def has_tokenizer(src: Path) -> bool:
    """True when ``src`` holds tokenizer files."""
    return any((src / name).is_file() for name in TOKENIZER_FILES)
