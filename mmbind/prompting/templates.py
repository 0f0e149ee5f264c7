"""templates.py

The one registry of conversation templates, for inference and training alike. Each template renders a
generation prompt (`Conversation.prompt`, chat / eval / converters) and a training `Record` as `Segment`s
(`Conversation.segments`: text, one media item -- ``<image>`` / ``<video>`` tag, later ONE placeholder
id -- or the end-of-sequence token, each marked supervised or not; the paper's Eq. 3: only the answers and
their eos are supervised).

- ``two`` style (Video-LLaVA's ``SeparatorStyle.TWO``): ``SYSTEM`` + sep, then each message as
  ``ROLE: text`` followed by ``sep`` after a user turn and ``sep2`` (the eos) after an assistant turn; an
  empty last message leaves ``ROLE:`` open for generation. In training every round's answer and its eos
  are supervised; system text, instructions and media masked.

  - ``llava_v1`` (inference: the video QA evaluation and the CLI): "A chat between a curious human ..."
  - ``vicuna_v1`` (stage-2 instruction tuning, `VICUNA_SYSTEM`): "... a curious user ..."
- ``plain`` style (stage-1 captioning, LLaVA's ``conv_llava_plain``): the media items, then the caption and
  eos; only the caption and eos are supervised. Its generation prompt is the media tags alone.

A single-turn prompt with a video reads ``SYSTEM USER: <video>\\nQUESTION ASSISTANT:`` -- the original's
``<image>`` x 8 frame tags are one ``<video>`` tag here (see `tokenize_prompt`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mmbind.errors import DataError, InputError
from mmbind.prompting.record import Record

VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

LLAVA_SYSTEM = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)


@dataclass(frozen=True)
class Segment:
    """A piece of a rendered training conversation."""

    text: str = ""  # literal text (empty for media and eos)
    modality: str | None = None  # set for one media item
    eos: bool = False  # the tokenizer's end-of-sequence token
    supervised: bool = False  # label = token (True) or -100 (False)


@dataclass(frozen=True)
class Conversation:
    """A conversation template: two roles with alternating separators, or plain captioning."""

    name: str  # template name (llava_v1, vicuna_v1, plain)
    system: str = ""  # system text opening every prompt
    roles: tuple[str, str] = ("USER", "ASSISTANT")  # (human role, assistant role)
    sep: str = " "  # after the system text and every user message
    sep2: str = "</s>"  # after every assistant message (the eos token in training)
    style: Literal["two", "plain"] = "two"

    @property
    def chat(self) -> bool:
        """Whether the template has roles to chat with (plain captioning has none)."""
        return self.style == "two"

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
        original), then the open assistant role. Plain: the media tags alone (as training shows them)."""
        tags = "".join(f"<{m}>" for m in media)
        if not self.chat:
            return tags
        rounds = [*history, (question, None)]
        messages: list[tuple[str, str | None]] = []
        for i, (asked, answer) in enumerate(rounds):
            text = f"{tags}\n{asked}" if (i == 0 and tags) else asked
            messages += [(self.roles[0], text), (self.roles[1], answer)]
        return self.render(messages)

    def segments(self, record: Record, modalities: tuple[str, ...]) -> list[Segment]:
        """Training segments of ``record``; media tags must match the record's files."""
        segments = self._two(record, modalities) if self.chat else self._plain(record, modalities)
        _check_media(record, segments)
        return segments

    def _plain(self, record: Record, modalities: tuple[str, ...]) -> list[Segment]:
        human, caption = record.turns[0][1], record.turns[1][1]
        media = [s for s in _split_media(_with_tags(record, human), modalities) if s.modality]
        return [*media, Segment(caption, supervised=True), Segment(eos=True, supervised=True)]

    def _two(self, record: Record, modalities: tuple[str, ...]) -> list[Segment]:
        segments: list[Segment] = []
        prefix = self.system + self.sep
        for i in range(0, len(record.turns), 2):
            question, answer = record.turns[i][1], record.turns[i + 1][1]
            if i == 0:
                question = _with_tags(record, question)
            user = f"{prefix}{self.roles[0]}: {question}{self.sep}{self.roles[1]}:"
            segments += _split_media(user, modalities)
            segments += [Segment(" " + answer, supervised=True), Segment(eos=True, supervised=True)]
            prefix = ""
        return segments


LLAVA_V1 = Conversation("llava_v1", LLAVA_SYSTEM)
VICUNA_V1 = Conversation("vicuna_v1", VICUNA_SYSTEM)
PLAIN = Conversation("plain", style="plain")
TEMPLATES = {t.name: t for t in (LLAVA_V1, VICUNA_V1, PLAIN)}


def get_template(name: str) -> Conversation:
    """The chat template called ``name`` (for generation prompts: chat, eval)."""
    chat = [n for n, t in TEMPLATES.items() if t.chat]
    if name not in chat:
        raise InputError(f"unknown conversation template {name!r} (known: {', '.join(chat)})")
    return TEMPLATES[name]


def render(record: Record, template: str, modalities: tuple[str, ...]) -> list[Segment]:
    """Training segments of ``record`` under the template called ``template``."""
    if template not in TEMPLATES:
        raise DataError(f"unknown conversation template {template!r} ({', '.join(TEMPLATES)})")
    return TEMPLATES[template].segments(record, modalities)


def _with_tags(record: Record, text: str) -> str:
    """Prepend the media tags + newline when the sample has media but its text names none (in the order of
    the sample's keys)."""
    all_text = " ".join(t for _, t in record.turns)
    if any(f"<{m}>" in all_text for m in record.media):
        return text
    tags = "".join(f"<{m}>" * len(files) for m, files in record.media.items())
    return f"{tags}\n{text}" if tags else text


def _split_media(text: str, modalities: tuple[str, ...]) -> list[Segment]:
    pattern = re.compile("(" + "|".join(re.escape(f"<{m}>") for m in modalities) + ")")
    out = []
    for part in pattern.split(text) if modalities else [text]:
        if part and part[1:-1] in modalities and part == f"<{part[1:-1]}>":
            out.append(Segment(modality=part[1:-1]))
        elif part:
            out.append(Segment(part))
    return out


def _check_media(record: Record, segments: list[Segment]) -> None:
    for modality in {*record.media, *(s.modality for s in segments if s.modality)}:
        files = record.files(modality)
        tags = sum(1 for s in segments if s.modality == modality)
        if tags != len(files):
            raise DataError(
                f"sample {record.id}: {tags} <{modality}> tag(s) in the conversation but {len(files)} "
                f"{modality} file(s)"
            )
