"""questions.py

Question-answer pairs about a scene, each with a canonical short answer (what evaluation compares against)
and a full-sentence answer (for the stage-2 long-form rounds). Objects are referred to unambiguously: by
shape or colour when that is unique in the scene, else by motion (the video's actor) or grid cell.

Question types: colour, shape, count, position, size, background, exists (yes/no), motion (videos).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from mmbind.synth.concepts import MOTION_ANSWERS, NUMBER_WORDS, SHAPES, Scene, Thing
from mmbind.synth.world import class_prior, companions

SHORT_SUFFIX = "Answer the question using a single word or phrase."  # LLaVA-1.5's short-answer instruction


@dataclass(frozen=True)
class QA:
    """One question with its answers."""

    type: str  # question type (colour, shape, count, position, size, background, exists, motion)
    question: str  # the question, without media tag or suffix
    answer: str  # canonical short answer
    sentence: str  # the same answer as a sentence


def _motion_short(thing: Thing) -> str:
    return MOTION_ANSWERS[thing.motion or ""]


def _where(thing: Thing) -> str:
    return f"that is {_motion_short(thing)}" if thing.motion else f"in the {thing.position}"


def _by_shape(scene: Scene, thing: Thing) -> str:
    """Reference without naming the colour."""
    if sum(t.shape == thing.shape for t in scene.things) == 1:
        return f"the {thing.shape}"
    return f"the {thing.shape} {_where(thing)}"


def _by_colour(scene: Scene, thing: Thing) -> str:
    """Reference without naming the shape."""
    if sum(t.colour == thing.colour for t in scene.things) == 1:
        return f"the {thing.colour} object"
    return f"the object {_where(thing)}"


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def colour_qa(scene: Scene, thing: Thing) -> QA:
    """The colour of ``thing``."""
    ref = _by_shape(scene, thing)
    return QA("colour", f"What colour is {ref}?", thing.colour, f"{_cap(ref)} is {thing.colour}.")


def shape_qa(scene: Scene, thing: Thing) -> QA:
    """The shape of ``thing``."""
    ref = _by_colour(scene, thing)
    return QA("shape", f"What shape is {ref}?", thing.shape, f"{_cap(ref)} is a {thing.shape}.")


def count_target(scene: Scene, rng: random.Random) -> str | None:
    """What a count question asks about: all objects (half the time), else a shape, usually one present."""
    if rng.random() < 0.5:
        return None
    present = sorted({t.shape for t in scene.things})
    return rng.choice(present) if rng.random() < 0.75 else rng.choice(SHAPES)


def count_qa(scene: Scene, shape: str | None = None) -> QA:
    """How many objects (``shape`` None) or how many of one shape (possibly zero)."""
    noun = shape or "object"
    n = sum(shape is None or t.shape == shape for t in scene.things)
    question = f"How many {noun}s are there in the {scene.modality}?"
    if n == 0:
        return QA("count", question, "0", f"There are no {noun}s.")
    word = NUMBER_WORDS[n]
    sentence = f"There is {word} {noun}." if n == 1 else f"There are {word} {noun}s."
    return QA("count", question, str(n), sentence)


def position_qa(thing: Thing) -> QA:
    """Where a still object is."""
    sentence = f"The {thing.name} is in the {thing.position}."
    return QA("position", f"Where is the {thing.name}?", thing.position, sentence)


def size_qa(thing: Thing) -> QA:
    """Whether ``thing`` is small or large."""
    sentence = f"The {thing.name} is {thing.size}."
    return QA("size", f"Is the {thing.name} small or large?", thing.size, sentence)


def background_qa(scene: Scene) -> QA:
    """The background colour."""
    return QA("background", "What colour is the background?", scene.background,
              f"The background is {scene.background}.")


def exists_qa(scene: Scene, name: str) -> QA:
    """POPE-style probe: "Is there a red circle in the image?"."""
    question = f"Is there a {name} in the {scene.modality}?"
    match = [t for t in scene.things if t.name == name]
    if not match:
        return QA("exists", question, "no", f"No, there is no {name}.")
    where = _motion_short(match[0]) if match[0].motion else f"in the {match[0].position}"
    return QA("exists", question, "yes", f"Yes, there is a {name} {where}.")


def motion_qa(scene: Scene) -> QA:
    """What the video's actor does."""
    actor = scene.actor
    assert actor is not None
    doing = _motion_short(actor)
    return QA("motion", f"What is the {actor.name} doing?", doing, f"The {actor.name} is {doing}.")


def absent_class(scene: Scene, rng: random.Random) -> str:
    """A class absent from ``scene``: the most popular one, a companion of a present one, or any."""
    present = set(scene.classes)
    absent = [c for c in class_prior() if c not in present]
    pick = rng.random()
    if pick < 0.25:
        return max(absent, key=lambda c: (class_prior()[c], c))
    friends = [c for name in scene.classes for c in companions()[name] if c not in present]
    if pick < 0.5 and friends:
        return rng.choice(friends)
    return rng.choice(absent)


def make_qa(kind: str, scene: Scene, rng: random.Random) -> QA:
    """A question of type ``kind`` about ``scene``; existence probes are half positive."""
    things = list(scene.things)
    still = [t for t in things if t.motion is None]
    makers: dict[str, Callable[[], QA]] = {
        "colour": lambda: colour_qa(scene, rng.choice(things)),
        "shape": lambda: shape_qa(scene, rng.choice(things)),
        "count": lambda: count_qa(scene, count_target(scene, rng)),
        "position": lambda: position_qa(rng.choice(still)),
        "size": lambda: size_qa(rng.choice([t for t in things if t.motion != "growing"])),
        "background": lambda: background_qa(scene),
        "exists": lambda: exists_qa(
            scene, rng.choice(scene.classes) if rng.random() < 0.5 else absent_class(scene, rng)
        ),
        "motion": lambda: motion_qa(scene),
    }
    return makers[kind]()
