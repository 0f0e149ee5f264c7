"""reply.py

`reply_text`: the answer text of what the judge endpoint sent back, checked before use. A body that is not
a chat completion -- plain text (the openai client hands back the text of a non-JSON 200), ``choices``
that is not a non-empty list, a choice without a ``message``, a message whose ``content`` is not a string --
raises `NotACompletion` naming what was wrong; the client counts and retries it like a failed call.
"""

from __future__ import annotations

from typing import Any


class NotACompletion(Exception):
    """The endpoint answered, but not with a chat completion."""


def _field(value: Any, name: str) -> Any:
    """``value.name`` or ``value[name]`` (a client model or a plain dict), None when absent."""
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)


def reply_text(reply: Any) -> str:
    """The first choice's message content (`NotACompletion` when ``reply`` is not a chat completion)."""
    if isinstance(reply, (str, bytes)):
        shown = reply[:60] if isinstance(reply, str) else reply[:60].decode("utf-8", "replace")
        raise NotACompletion(f"a plain-text body ({shown!r}), not a chat completion")
    choices = _field(reply, "choices")
    if not isinstance(choices, list) or not choices:
        kind = "missing" if choices is None else f"a {type(choices).__name__}" if choices else "empty"
        raise NotACompletion(f"a body whose 'choices' is {kind}, not a list of choices")
    message = _field(choices[0], "message")
    if message is None:
        raise NotACompletion("a choice without a 'message'")
    content = _field(message, "content")
    if not isinstance(content, str):
        raise NotACompletion(f"a message whose 'content' is {type(content).__name__}, not text")
    return content
