"""toy_tokenizer.py

Small offline tokenizers trained on given strings (with the ``tokenizers`` library) and saved as a
transformers ``PreTrainedTokenizerFast`` directory, for tiny recipes and tests. Three styles cover the
tokenisation conventions the data pipeline must handle: ``wordlevel`` (whitespace words), ``metaspace``
(SentencePiece-like BPE that adds a prefix space, as Llama's) and ``bytelevel`` (GPT-2-like BPE).
BOS ``<s>`` is prepended, EOS is ``</s>``; ``<image>``/``<video>`` are added by `build_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]


def build_tokenizer(
    texts: list[str], out: Path, style: Literal["wordlevel", "metaspace", "bytelevel"] = "wordlevel",
    vocab_size: int = 400, **init_kwargs: Any,
) -> Path:
    """Train a tokenizer on ``texts`` and save it into ``out``; returns ``out``. ``init_kwargs`` go to
    `PreTrainedTokenizerFast` (saved in its config, e.g. ``clean_up_tokenization_spaces``)."""
    if style == "wordlevel":
        tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.WordLevelTrainer(special_tokens=SPECIALS)
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        if style == "metaspace":
            tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
            tok.decoder = decoders.Metaspace(prepend_scheme="first")
        else:
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet() if style == "bytelevel" else []
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=SPECIALS, initial_alphabet=alphabet
        )
    tok.train_from_iterator(texts, trainer)
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", bos)])
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        **init_kwargs,
    )
    out.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(out)
    return out
