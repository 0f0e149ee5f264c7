"""streamer.py

`ConsoleStreamer`: a transformers `TextStreamer` (passed to ``generate(streamer=...)``; prompt and special
tokens skipped) that writes to a chosen text stream and never prints text that later decoding revises.

`TextStreamer` prints the new tail of ``decode(all tokens so far)`` and assumes earlier text never
changes; with ``clean_up_tokenization_spaces`` (the synthetic tokenizer's setting) it does: "1 '" becomes
"1'do" once "do" arrives, and TextStreamer then drops the apostrophe. This one prints only up to the last
space of the decoded text (the finished words, which clean-up no longer touches), the rest at the end, so
the streamed text is exactly the final answer.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from transformers import TextStreamer


class ConsoleStreamer(TextStreamer):
    """Streams generated text, word by word, to ``out`` (default: the current ``sys.stdout``)."""

    def __init__(self, tokenizer: Any, out: TextIO | None = None) -> None:
        super().__init__(tokenizer, skip_prompt=True, skip_special_tokens=True)
        self.out = out
        self.printed = ""  # text written so far in this answer

    def _decoded(self) -> str:
        return str(self.tokenizer.decode(self.token_cache, **self.decode_kwargs)).lstrip()

    def _emit(self, text: str, stream_end: bool = False) -> None:
        new = text[len(self.printed):] if text.startswith(self.printed) else ""
        self.printed += new
        self.on_finalized_text(new, stream_end)

    def put(self, value: Any) -> None:
        """Take the next token(s) (batch size 1); print the words that are complete."""
        if len(value.shape) > 1:
            if value.shape[0] > 1:
                raise ValueError("ConsoleStreamer only supports batch size 1")
            value = value[0]
        if self.skip_prompt and self.next_tokens_are_prompt:
            self.next_tokens_are_prompt = False
            return
        self.token_cache.extend(value.tolist())
        text = self._decoded()
        cut = max(text.rfind(" "), text.rfind("\n"))
        self._emit(text[:cut] if cut > 0 else "")

    def end(self) -> None:
        """Print the rest of the answer and a newline; ready for the next answer."""
        text = self._decoded()
        self._emit(text.rstrip() if text.startswith(self.printed) else self.printed, stream_end=True)
        self.token_cache, self.printed, self.next_tokens_are_prompt = [], "", True

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        out = self.out or sys.stdout
        out.write(text + ("\n" if stream_end else ""))
        out.flush()
