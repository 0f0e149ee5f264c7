"""templates.py

Video-LLaVA's conversation templates (``SeparatorStyle.TWO``): ``SYSTEM`` + sep, then each message as
``ROLE: text`` followed by ``sep`` after a user turn and ``sep2`` after an assistant turn; an empty last
message leaves ``ROLE:`` open for generation.

- ``llava_v1`` (inference: the video QA evaluation and the CLI): "A chat between a curious human ..."
- ``vicuna_v1`` (training wording, `VICUNA_SYSTEM`; the training data's templates use it too): "... a curious user ..."

A single-turn prompt with a video reads ``SYSTEM USER: <video>\\nQUESTION ASSISTANT:`` -- the original's
``<image>`` x 8 frame tags are one ``<video>`` tag here (see `tokenize_prompt`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from mmbind.errors import InputError

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

LLAVA_SYSTEM = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)


@dataclass(frozen=True)
class Conversation:
    """A two-role conversation template with alternating separators."""

    name: str  # template name (llava_v1, vicuna_v1)
    system: str  # system text opening every prompt
    roles: tuple[str, str] = ("USER", "ASSISTANT")  # (human role, assistant role)
    sep: str = " "  # after the system text and every user message
    sep2: str = "</s>"  # after every assistant message

    def render(self, messages: Sequence[tuple[str, str | None]]) -> str:
        """``messages`` as (role, text) in order; a None/empty text ends the prompt with ``ROLE:``."""
        seps = (self.sep, self.sep2)
        out = self.system + seps[0]
        for i, (role, text) in enumerate(messages):
            out += f"{role}: {text}{seps[i % 2]}" if text else f"{role}:"
        return out

    def prompt(
        self, question: str, media: Sequence[str] = (), history: Sequence[tuple[str, str]] = ()
    ) -> str:
        """A generation prompt: earlier (question, answer) rounds, then ``question`` with one
        ``<modality>`` tag per media item and a newline before it (in the first user message, as the
        original), then the open assistant role."""
        tags = "".join(f"<{m}>" for m in media)
        rounds = [*history, (question, None)]
        messages: list[tuple[str, str | None]] = []
        for i, (asked, answer) in enumerate(rounds):
            text = f"{tags}\n{asked}" if (i == 0 and tags) else asked
            messages += [(self.roles[0], text), (self.roles[1], answer)]
        return self.render(messages)


LLAVA_V1 = Conversation("llava_v1", LLAVA_SYSTEM)
VICUNA_V1 = Conversation("vicuna_v1", VICUNA_SYSTEM)
TEMPLATES = {t.name: t for t in (LLAVA_V1, VICUNA_V1)}


def get_template(name: str) -> Conversation:
    """The template called ``name``."""
    if name not in TEMPLATES:
        raise InputError(f"unknown conversation template {name!r} (known: {', '.join(TEMPLATES)})")
    return TEMPLATES[name]
