"""tokenize.py

`tokenize_prompt`: the original's ``tokenizer_image_token`` with one placeholder id per media tag.

The prompt is split on the ``<modality>`` tags of ``placeholder_ids``; each text chunk is tokenized on
its own with the tokenizer's special tokens, and when the first chunk starts with BOS the first token of
every later chunk (its BOS) is dropped -- exactly the original's rule, so a SentencePiece tokenizer gives
the same ids next to media as there (its prefix space included) rather than one-pass ids. Each tag
becomes ONE placeholder id that the model expands in place: an image to its tokens, a video to its frames'
tokens frame-major (T x 257), which is the original's ``<image>`` x 8 frame blocks (the empty chunks
between consecutive frame tags contribute no tokens there).
"""

from __future__ import annotations

import re
from typing import Any, Mapping


def tokenize_prompt(tokenizer: Any, text: str, placeholder_ids: Mapping[str, int]) -> list[int]:
    """Token ids of ``text`` with one ``placeholder_ids[modality]`` per ``<modality>`` tag."""
    tags = {f"<{modality}>": token for modality, token in placeholder_ids.items()}
    if not tags:
        return list(tokenizer(text, add_special_tokens=True)["input_ids"])
    parts = re.split("(" + "|".join(re.escape(tag) for tag in tags) + ")", text)
    chunks = [tokenizer(chunk, add_special_tokens=True)["input_ids"] for chunk in parts[0::2]]
    bos = tokenizer.bos_token_id
    offset = 1 if bos is not None and chunks[0][:1] == [bos] else 0
    ids = list(chunks[0])
    for tag, chunk in zip(parts[1::2], chunks[1:]):
        ids.append(tags[tag])
        ids.extend(chunk[offset:])
    return ids
