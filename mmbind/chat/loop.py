"""loop.py

`chat_loop`: the interactive terminal conversation. Each line read (with ``input``, so piped stdin works
too) is one user turn; the answer streams after ``ASSISTANT:``. ``exit``, ``quit`` or end of input stops;
``/reset`` forgets the earlier rounds; blank lines are ignored. With ``echo`` (stdin is not a terminal)
each question is printed after the prompt, so a transcript of piped input reads like a conversation.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from mmbind.chat.session import ChatSession
from mmbind.chat.streamer import ConsoleStreamer

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
        if echo:
            (out or sys.stdout).write(line + "\n")
        if not line:
            continue
        if line.lower() in STOP_WORDS:
            return turns
        if line == RESET:
            session.reset()
            (out or sys.stdout).write("(history cleared)\n")
            continue
        (out or sys.stdout).write("ASSISTANT: ")
        session.ask(line, streamer)
        turns += 1
