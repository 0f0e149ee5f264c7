"""phrases.py

English for scenes: object phrases, stage-1 captions and stage-2 detailed descriptions. Wording is fixed
and ordered (still objects by grid cell), so a tiny LLM can learn it; counts are digits in short answers
and words in sentences.
"""

from __future__ import annotations

from mmbind.synth.concepts import CELLS, MOVES, NUMBER_WORDS, Scene, Thing

LANE_WORDS = {  # lane -> where a translating object travels
    "top": "along the top", "bottom": "along the bottom", "left": "on the left", "right": "on the right",
}
def count_words(n: int, singular: str) -> str:
    """"one object", "three objects"."""
    word = NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else str(n)
    return f"{word} {singular}" if n == 1 else f"{word} {singular}s"


def join(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def still_things(scene: Scene) -> list[Thing]:
    """Objects that do not move, in grid-cell order."""
    order = list(CELLS)
    return sorted((t for t in scene.things if t.motion is None), key=lambda t: order.index(t.position))


def motion_phrase(thing: Thing) -> str:
    """"moving left along the top", "rotating in the top left"."""
    assert thing.motion is not None
    if thing.motion in MOVES:
        return f"moving {thing.motion} {LANE_WORDS[thing.position]}"
    return f"{thing.motion} in the {thing.position}"  # rotating, growing, appearing


def thing_phrase(thing: Thing, article: str = "a") -> str:
    """"a small red circle in the top left" (still) or "a large blue square moving left along the top"."""
    size = "" if thing.motion == "growing" else f"{thing.size} "
    where = motion_phrase(thing) if thing.motion else f"in the {thing.position}"
    return f"{article} {size}{thing.colour} {thing.shape} {where}"


def caption(scene: Scene) -> str:
    """A one-sentence stage-1 caption."""
    things = ([scene.actor] if scene.actor else []) + still_things(scene)
    text = join([thing_phrase(t) for t in things]) + f" on a {scene.background} background."
    return text[0].upper() + text[1:]


def description(scene: Scene) -> str:
    """A detailed stage-2 description: how many objects, the background, then each object."""
    n = len(scene.things)
    be = "is" if n == 1 else "are"
    if scene.actor is None:
        parts = [thing_phrase(t) for t in still_things(scene)]
        return f"There {be} {count_words(n, 'object')} on a {scene.background} background: {join(parts)}."
    actor = scene.actor
    size = "" if actor.motion == "growing" else f"{actor.size} "
    text = (f"The video shows {count_words(n, 'object')} on a {scene.background} background. "
            f"A {size}{actor.colour} {actor.shape} is {motion_phrase(actor)}.")
    for thing in still_things(scene):
        text += f" A {thing.size} {thing.colour} {thing.shape} stays in the {thing.position}."
    return text
