"""loop.py

`chat_loop`: the interactive terminal conversation. Each line read (with ``input``, so piped stdin works
too) is one user turn; the answer streams after ``ASSISTANT:``. ``exit``, ``quit`` or end of input stops;
``/reset`` forgets the earlier rounds; blank lines are ignored. A question the text guard refuses (not
valid Unicode, longer than the model's context) is answered with why, and the chat goes on. With ``echo``
(stdin is not a terminal) each question is printed after the prompt, so a transcript of piped input reads
like a conversation.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from mmbind.chat.session import ChatSession
from mmbind.chat.streamer import ConsoleStreamer
from mmbind.errors import PromptError
from mmbind.prompting.text_guard import check_length, check_text

STOP_WORDS = ("exit", "quit")  # lines that end the chat
RESET = "/reset"  # line that clears the history


def chat_loop(session: ChatSession, streamer: ConsoleStreamer, out: TextIO | None = None,
              read: Any = input, echo: bool = False) -> int:
    """Run the conversation until ``exit`` / end of input; returns the number of answered turns."""
    turns = 0
    while True:
        try:
            line = read("USER: ").strip()
        except EOFError:
            (out or sys.stdout).write("\n")
            return turns
        except UnicodeDecodeError as exc:  # stdin bytes that are not text in its encoding
            (out or sys.stdout).write(f"\n(not asked: the line is not valid {exc.encoding} text)\n")
            continue
        if echo:
            (out or sys.stdout).write(line.encode("utf-8", "replace").decode("utf-8") + "\n")
        if not line:
            continue
        if line.lower() in STOP_WORDS:
            return turns
        if line == RESET:
            session.reset()
            (out or sys.stdout).write("(history cleared)\n")
            continue
        try:
            check_text(line, "the question")
            check_length(line, session.generator.context, "the question")
        except PromptError as exc:
            (out or sys.stdout).write(f"(not asked: {exc})\n")
            continue
        (out or sys.stdout).write("ASSISTANT: ")
        try:
            session.ask(line, streamer)
        except PromptError as exc:  # the conversation so far no longer fits the context
            (out or sys.stdout).write(f"\n(not asked: {exc}; /reset forgets earlier rounds)\n")
            continue
        turns += 1
