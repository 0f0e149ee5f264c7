"""training.py

Training records in LLaVA format: stage-1 captions (``pretrain.json``: the media tag plus a short
instruction, answered by a one-sentence caption) and stage-2 instruction conversations (``finetune.json``:
2-4 rounds of detailed descriptions and questions per image or video, short-answer rounds carrying
LLaVA-1.5's "Answer the question using a single word or phrase." and long rounds answered in a sentence,
plus a share of text-only conversations about numbers and shapes).

Existence probes in training are half positive; negatives are random, popular or companion classes, so
the model meets the kinds of negatives POPE evaluates.
"""

from __future__ import annotations

import random
from typing import Any

from mmbind.synth.concepts import Scene
from mmbind.synth.items import GeneratedMedia, gpt, human, record, with_tag
from mmbind.synth.phrases import caption, description
from mmbind.synth.questions import SHORT_SUFFIX, make_qa

CAPTION_PROMPTS = (
    "Give a brief description of the {m}.", "Describe the {m} briefly.", "Write a short caption for the {m}.",
    "Summarize the visual content of the {m}.",
)
DESCRIBE_PROMPTS = (
    "Describe the {m} in detail.", "What do you see in the {m}?", "Tell me what the {m} shows.",
)
KIND_WEIGHTS = {  # stage-2 question kind -> sampling weight
    "describe": 1.0, "colour": 1.5, "shape": 1.5, "count": 1.2, "position": 0.8, "size": 0.6,
    "background": 0.6, "exists": 1.5, "motion": 2.0,
}
SHORT_P = 0.6  # chance that a question round asks for a short answer


def caption_record(item: GeneratedMedia, rng: random.Random) -> dict[str, Any]:
    """A stage-1 caption sample."""
    prompt = rng.choice(CAPTION_PROMPTS).format(m=item.modality)
    return record(item, item.id, [human(with_tag(item, prompt)), gpt(caption(item.scene))])


def _kinds(scene: Scene, rng: random.Random, k: int) -> list[str]:
    """``k`` distinct question kinds that apply to ``scene``, weighted by KIND_WEIGHTS."""
    pool = [kind for kind in KIND_WEIGHTS if not (
        (kind == "motion" and scene.actor is None)
        or (kind == "position" and all(t.motion for t in scene.things))
        or (kind == "size" and all(t.motion == "growing" for t in scene.things))
    )]
    chosen: list[str] = []
    while len(chosen) < min(k, len(pool)):
        free = [kind for kind in pool if kind not in chosen]
        chosen.append(rng.choices(free, weights=[KIND_WEIGHTS[kind] for kind in free])[0])
    return chosen


def instruction_record(item: GeneratedMedia, rng: random.Random) -> dict[str, Any]:
    """A stage-2 multi-turn conversation about one image or video."""
    turns = []
    for kind in _kinds(item.scene, rng, rng.choice((2, 3, 3, 4))):
        if kind == "describe":
            question, answer = rng.choice(DESCRIBE_PROMPTS).format(m=item.modality), description(item.scene)
        else:
            qa = make_qa(kind, item.scene, rng)
            short = rng.random() < SHORT_P
            question = f"{qa.question}\n{SHORT_SUFFIX}" if short else qa.question
            answer = qa.answer if short else qa.sentence
        turns += [human(with_tag(item, question) if not turns else question), gpt(answer)]
    return record(item, item.id, turns)


def text_only_record(index: int, rng: random.Random) -> dict[str, Any]:
    """A text-only conversation (1-3 rounds) about numbers and shapes."""
    turns = []
    for _ in range(rng.choice((1, 2, 3))):
        kind = rng.choice(("plus", "after", "sides"))
        if kind == "plus":
            a, b = rng.randint(0, 4), rng.randint(0, 4)
            question, short, sentence = f"What is {a} plus {b}?", str(a + b), f"{a} plus {b} is {a + b}."
        elif kind == "after":
            n = rng.randint(0, 8)
            question, short = f"Which number comes after {n}?", str(n + 1)
            sentence = f"{n + 1} comes after {n}."
        else:
            shape, sides = rng.choice((("triangle", 3), ("square", 4)))
            question, short = f"How many sides does a {shape} have?", str(sides)
            sentence = f"A {shape} has {sides} sides."
        if rng.random() < SHORT_P:
            turns += [human(f"{question}\n{SHORT_SUFFIX}"), gpt(short)]
        else:
            turns += [human(question), gpt(sentence)]
    return record(None, f"text-{index:05d}", turns)
