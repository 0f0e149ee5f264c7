"""templates.py

Conversation templates: a `Record`'s turns rendered as a list of `Segment`s, each either text, one media
item (``<image>`` / ``<video>`` tag, later ONE placeholder id) or the end-of-sequence token, and each
marked supervised or not (the paper's Eq. 3: only the answers and their eos are supervised).

- ``plain`` (stage-1 captioning, LLaVA's ``conv_llava_plain``): media items, then the caption and eos;
  only the caption and eos are supervised.
- ``vicuna_v1`` (stage-2 instruction tuning): ``SYSTEM USER: q1 ASSISTANT: a1</s>USER: q2 ASSISTANT: a2</s>``;
  every round's answer and its ``</s>`` supervised; system text, instructions and media masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from mmbind.data.records import Record
from mmbind.errors import DataError
from mmbind.prompting.templates import VICUNA_SYSTEM



@dataclass(frozen=True)
class Segment:
    """A piece of the rendered conversation."""

    text: str = ""  # literal text (empty for media and eos)
    modality: str | None = None  # set for one media item
    eos: bool = False  # the tokenizer's end-of-sequence token
    supervised: bool = False  # label = token (True) or -100 (False)


def render(record: Record, template: str, modalities: tuple[str, ...]) -> list[Segment]:
    """Segments of ``record`` under ``template``; media tags must match the record's files."""
    renderer: dict[str, Callable[[Record, tuple[str, ...]], list[Segment]]] = {
        "plain": _plain,
        "vicuna_v1": _vicuna_v1,
    }
    if template not in renderer:
        raise DataError(f"unknown conversation template {template!r} (plain, vicuna_v1)")
    segments = renderer[template](record, modalities)
    _check_media(record, segments)
    return segments


def _plain(record: Record, modalities: tuple[str, ...]) -> list[Segment]:
    human, caption = record.turns[0][1], record.turns[1][1]
    media = [s for s in _split_media(_with_tags(record, human), modalities) if s.modality]
    return [*media, Segment(caption, supervised=True), Segment(eos=True, supervised=True)]


def _vicuna_v1(record: Record, modalities: tuple[str, ...]) -> list[Segment]:
    segments: list[Segment] = []
    prefix = VICUNA_SYSTEM + " "
    for i in range(0, len(record.turns), 2):
        question, answer = record.turns[i][1], record.turns[i + 1][1]
        if i == 0:
            question = _with_tags(record, question)
        segments += _split_media(prefix + "USER: " + question + " ASSISTANT:", modalities)
        segments += [Segment(" " + answer, supervised=True), Segment(eos=True, supervised=True)]
        prefix = ""
    return segments


def _with_tags(record: Record, text: str) -> str:
    """Prepend ``<video>``/``<image>`` tags + newline when the sample has media but its text names none."""
    all_text = " ".join(t for _, t in record.turns)
    if "<video>" in all_text or "<image>" in all_text:
        return text
    tags = "<video>" * len(record.videos) + "<image>" * len(record.images)
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
    for modality, files in (("image", record.images), ("video", record.videos)):
        tags = sum(1 for s in segments if s.modality == modality)
        if tags != len(files):
            raise DataError(
                f"sample {record.id}: {tags} <{modality}> tag(s) in the conversation but {len(files)} "
                f"{modality} file(s)"
            )
