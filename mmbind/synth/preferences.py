"""preferences.py

Preference pairs of the synthetic world (``preferences.json``, LLaVA style: the prompt as
``conversations`` up to the user's question, ``"chosen"`` and ``"rejected"`` answers): one per training
image or video, asking a question whose correct answer is the chosen one and whose rejected answer is a
plausible hallucination of the kind POPE and the open questions probe -- an absent object said present, a
wrong colour, shape, count or motion -- or its mirror on existence, a present object said absent
(``missed``): POPE asks about present and absent objects alike, and pairs that only ever chose "no" would
teach a model to deny everything. ``preferences_chosen.json`` holds the same prompts answered by the
chosen answers as ordinary conversations (supervised training on them is preference training's fair
control). Short-answer questions (LLaVA-1.5's suffix) get short answers,
the others sentences, as in the stage-2 conversations; the rejected answer is always worded like the chosen.
"""

from __future__ import annotations

import random
from typing import Any

from mmbind.synth.concepts import COLOURS, MOTION_ANSWERS, NUMBER_WORDS, SHAPES, Scene
from mmbind.synth.items import GeneratedMedia, human, record, with_tag
from mmbind.synth.questions import (
    QA,
    SHORT_SUFFIX,
    absent_class,
    colour_qa,
    count_qa,
    exists_qa,
    motion_qa,
    shape_qa,
)
from mmbind.synth.training import SHORT_P

MAX_OBJECTS = 4  # the most objects a scene holds (its count words are the tokenizer's)
# what a rejected answer gets wrong
HALLUCINATIONS = ("exists", "missed", "colour", "shape", "count", "motion")


def _other(options: list[str], right: str, rng: random.Random) -> str:
    return rng.choice([o for o in options if o != right])


def _pair(kind: str, scene: Scene, rng: random.Random) -> tuple[QA, str, str]:
    """(question, the wrong short answer, the wrong sentence) of a hallucination of ``kind``."""
    things = list(scene.things)
    if kind == "exists":
        name = absent_class(scene, rng)
        cell = rng.choice(["top left", "top right", "bottom left", "bottom right"])
        return exists_qa(scene, name), "yes", f"Yes, there is a {name} in the {cell}."
    if kind == "missed":
        name = rng.choice(things).name
        return exists_qa(scene, name), "no", f"No, there is no {name}."
    if kind == "colour":
        thing = rng.choice(things)
        qa = colour_qa(scene, thing)
        wrong = _other(list(COLOURS), thing.colour, rng)
        return qa, wrong, qa.sentence.replace(f" is {thing.colour}.", f" is {wrong}.")
    if kind == "shape":
        thing = rng.choice(things)
        qa = shape_qa(scene, thing)
        wrong = _other(list(SHAPES), thing.shape, rng)
        return qa, wrong, qa.sentence.replace(f" is a {thing.shape}.", f" is a {wrong}.")
    if kind == "count":
        qa = count_qa(scene)
        n = len(things)
        wrong = rng.choice([c for c in (n - 1, n + 1) if 1 <= c <= MAX_OBJECTS])  # counts the world has
        sentence = "There is one object." if wrong == 1 else f"There are {NUMBER_WORDS[wrong]} objects."
        return qa, str(wrong), sentence
    actor = scene.actor
    assert actor is not None
    qa = motion_qa(scene)
    wrong = _other(sorted(set(MOTION_ANSWERS.values())), MOTION_ANSWERS[actor.motion or ""], rng)
    return qa, wrong, f"The {actor.name} is {wrong}."


def _kinds(scene: Scene) -> list[str]:
    return [k for k in HALLUCINATIONS if k != "motion" or scene.actor is not None]


def preference_record(item: GeneratedMedia, rng: random.Random) -> dict[str, Any]:
    """One preference pair about ``item``: the correct answer chosen, a hallucination rejected."""
    kind = rng.choice(_kinds(item.scene))
    qa, wrong_short, wrong_sentence = _pair(kind, item.scene, rng)
    short = rng.random() < SHORT_P
    question = f"{qa.question}\n{SHORT_SUFFIX}" if short else qa.question
    chosen, rejected = (qa.answer, wrong_short) if short else (qa.sentence, wrong_sentence)
    return record(item, f"pref-{item.id}", [human(with_tag(item, question))], chosen=chosen,
                  rejected=rejected, hallucination=kind)



def chosen_conversation(pair: dict[str, Any]) -> dict[str, Any]:
    """A preference pair as a LLaVA conversation answered by its chosen answer."""
    out = {k: v for k, v in pair.items() if k not in ("chosen", "rejected", "conversations")}
    out["conversations"] = [*pair["conversations"], {"from": "gpt", "value": pair["chosen"]}]
    return out
