"""tokenizer.py

The dataset's tokenizer, trained on all of its text (captions, conversations, evaluation questions and
answers, both conversation templates' system prompts and role names) with
`mmbind.data.toy_tokenizer.build_tokenizer`.

Style ``wordlevel`` (one token per word or punctuation run, whitespace dropped): every word is one
token wherever it appears, so the canonical answers ("red", "moving left", "3", "yes") are the same
tokens in short answers, in sentences ("... in the top left .") and in questions, and the vocabulary stays
tiny (about 160 tokens: set the tiny LLM's ``vocab_size`` to at least the manifest's
``tokenizer.vocab_size``). The saved tokenizer cleans up spaces when decoding ("It is red."). A
``metaspace`` BPE, tried first, glued punctuation and newlines to words ("left." and "circle?\nAnswer"
became tokens of their own), splitting each concept over several unrelated tokens. Words outside the
corpus become ``<unk>``. Media tags are stripped from the corpus:
``<image>`` / ``<video>`` / ``<depth>`` are added as special tokens by `mmbind.build_model`.

Text added to the dataset later (the depth records) gets a tokenizer of its own, ``tokenizer_depth/``
(`extend_tokenizer`): the dataset's tokenizer, trained on the earlier text alone and saved exactly as
before (so runs of the image + video study are unchanged: a CLIP text encoder's vocabulary is the
tokenizer's), with the depth text's new words appended (most frequent first, ties by spelling), so every
earlier word keeps its id.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mmbind.data.toy_tokenizer import build_tokenizer
from mmbind.prompting.templates import LLAVA_SYSTEM, VICUNA_SYSTEM

STYLE = "wordlevel"  # see the module docstring
_TAGS = re.compile(r"<(image|video|depth)>\n?")


def corpus(record_lists: Iterable[list[dict[str, Any]]]) -> list[str]:
    """Every text of the dataset (media tags stripped) plus the templates' fixed text."""
    texts = [VICUNA_SYSTEM, LLAVA_SYSTEM, "USER: ASSISTANT:"]
    for records in record_lists:
        for sample in records:
            texts += [_TAGS.sub("", turn["value"]) for turn in sample["conversations"]]
    return texts


def _append_words(path: Path, texts: list[str]) -> None:
    """Add the words of ``texts`` missing from the word-level tokenizer file ``path`` after its last id."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    pre = tokenizer.pre_tokenizer
    assert pre is not None
    words = Counter(word for text in texts for word, _ in pre.pre_tokenize_str(text))
    new = sorted((w for w in words if tokenizer.token_to_id(w) is None), key=lambda w: (-words[w], w))
    if not new:
        return
    data = json.loads(tokenizer.to_str())
    vocab = data["model"]["vocab"]
    start = 1 + max([*vocab.values(), *(t["id"] for t in data["added_tokens"])])
    vocab.update({word: start + i for i, word in enumerate(new)})
    Tokenizer.from_str(json.dumps(data)).save(str(path))


def train_tokenizer(record_lists: Iterable[list[dict[str, Any]]], out: Path) -> dict[str, Any]:
    """Train and save the tokenizer into ``out``; returns its manifest entry."""
    # decode "red ." as "red." (an init argument, so it is saved and kept by every later save_pretrained)
    build_tokenizer(corpus(record_lists), out, style=STYLE, clean_up_tokenization_spaces=True)
    return _entry(out)


def extend_tokenizer(source: Path, out: Path, extra: Iterable[list[dict[str, Any]]]) -> dict[str, Any]:
    """A copy of the tokenizer in ``source`` saved into ``out`` with the new words of the ``extra``
    records appended (see the module docstring); returns its manifest entry."""
    out.mkdir(parents=True, exist_ok=True)
    for file in sorted(source.iterdir()):
        (out / file.name).write_bytes(file.read_bytes())
    _append_words(out / "tokenizer.json", corpus(extra))
    return _entry(out)


def _entry(out: Path) -> dict[str, Any]:
    from tokenizers import Tokenizer

    vocab_size = Tokenizer.from_file(str(out / "tokenizer.json")).get_vocab_size(with_added_tokens=True)
    return {"dir": out.name, "style": STYLE, "vocab_size": vocab_size}
