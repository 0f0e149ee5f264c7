"""text_guard.py

The one text policy at every tokenizer boundary (training, chat, infer, serve, benchmarks), so a text the
tokenizer cannot take, or one far longer than the model can read, is refused with one message naming the
item -- never a traceback, never a giant allocation:

- `check_text`: a text that is not valid Unicode (a lone surrogate such as ``"\\udfff"``, which JSON's
  ``\\u`` escapes, undecodable command-line bytes or stdin can produce) is refused. Training skips and
  reports such a sample (`DataError`); chat, infer, serve (400) and benchmark questions refuse the item
  (`PromptError`; infer and a benchmark's predictions record it against the item and go on);
- `check_length`: a prompt of more than `CHARS_PER_TOKEN` characters per token of the model's context is
  refused before it is tokenised (no tokenizer makes tokens that long, so it could not fit);
- `check_tokens`: a prompt whose text tokens do not leave one token of the context free is refused.

A context of None (the LLM backend declares none) checks nothing but the text.
"""

from __future__ import annotations

from mmbind.errors import MmbindError, PromptError

CHARS_PER_TOKEN = 64  # more characters than this per context token cannot fit, whatever the tokenizer


def check_text(text: str, item: str, error: type[MmbindError] = PromptError) -> str:
    """``text`` when it is valid Unicode; else ``error("<item>: text is not valid Unicode (...)")``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        at = exc.start
        raise error(f"{item}: text is not valid Unicode (lone surrogate {text[at]!r} at character {at})"
                    ) from None
    return text


def check_length(text: str, context: int | None, item: str) -> None:
    """`PromptError` when ``text`` is too many characters to fit ``context`` tokens (checked before any
    tokenising)."""
    if context is not None and len(text) > CHARS_PER_TOKEN * context:
        raise PromptError(f"{item}: the prompt is {len(text)} characters long, more than the model's context "
                          f"of {context} tokens can hold (at most {CHARS_PER_TOKEN * context} characters)")


def check_tokens(count: int, context: int | None, item: str) -> None:
    """`PromptError` when a prompt of ``count`` text tokens leaves no room to answer in ``context``."""
    if context is not None and count >= context:
        raise PromptError(f"{item}: the prompt is {count} tokens long, over the model's context of {context} "
                          "tokens")
