"""row_text.py

`RowText`: the answer of one batch row, token by token. It decides when the row is done (end-of-sequence
token, its own ``max_tokens``, a stop string) and which text may be streamed so far.

Streamed text never has to be taken back: only whole words are sent while generating (decoding with
``clean_up_tokenization_spaces`` may still change the last one), and with stop strings a tail as long as
the longest stop string is held back. The concatenated deltas equal the final ``content``, which is the
same text `Generator` returns (special tokens skipped, stripped), cut before the first stop string.
"""

from __future__ import annotations

from typing import Any


class RowText:
    """Tokens and text of one answer."""

    def __init__(self, tokenizer: Any, eos_id: int | None, max_tokens: int, stops: tuple[str, ...] = (),
                 stream: bool = True) -> None:
        self.tokenizer = tokenizer
        self.eos_id = eos_id
        self.max_tokens = max_tokens
        self.stops = stops
        self.stream = stream  # without streaming or stop strings, nothing is decoded before the end
        self.tokens: list[int] = []
        self.sent = ""  # text streamed so far
        self.done = False
        self.finish_reason: str | None = None
        self._stopped_text: str | None = None

    def _decoded(self) -> str:
        return str(self.tokenizer.decode(self.tokens, skip_special_tokens=True)).lstrip()

    def push(self, token: int) -> str:
        """Take the next token; returns the text that may be streamed now ('' when none or done)."""
        if self.done:
            return ""
        if self.eos_id is not None and token == self.eos_id:
            self.done, self.finish_reason = True, "stop"
            return ""
        self.tokens.append(token)
        if not self.stream and not self.stops:
            if len(self.tokens) >= self.max_tokens:
                self.done, self.finish_reason = True, "length"
            return ""
        text = self._decoded()
        for stop in self.stops:
            at = text.find(stop)
            if at >= 0 and (self._stopped_text is None or at < len(self._stopped_text)):
                self._stopped_text = text[:at]
        if self._stopped_text is not None:
            self.done, self.finish_reason = True, "stop"
            return ""
        if len(self.tokens) >= self.max_tokens:
            self.done, self.finish_reason = True, "length"
            return ""
        limit = len(text) - max((len(s) for s in self.stops), default=0)
        cut = max(text.rfind(" ", 0, max(limit, 0)), text.rfind("\n", 0, max(limit, 0)))
        return self._advance(text[:cut] if cut > 0 else "")

    def _advance(self, text: str) -> str:
        if not text.startswith(self.sent):
            return ""
        new, self.sent = text[len(self.sent):], text
        return new

    def final(self) -> str:
        """The whole answer."""
        if self._stopped_text is not None:
            return self._stopped_text.strip()
        return self._decoded().strip()

    def finish(self) -> str:
        """Mark done (``length`` unless already finished) and return the text not streamed yet."""
        if not self.done:
            self.done, self.finish_reason = True, "length"
        return self._advance(self.final())
