"""world.py

Sampling scenes. Object classes are not uniform and not independent, so POPE's negative sampling means
something here as it does on COCO: a fixed (seed-independent) Zipf-like prior makes some classes
*popular*, and every class has two fixed *companions* that it co-occurs with more often than chance (the
pairs POPE's adversarial split asks about).

Images hold 1-4 still objects in distinct cells of the 2 x 2 grid. Videos hold an actor with a motion
(translating along a row or column lane, or rotating / growing / appearing in its cell) and 0-2 still
objects in cells the actor never crosses. Circles never rotate (that would not show).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import lru_cache

from mmbind.errors import DataError
from mmbind.synth.concepts import BACKGROUNDS, CELLS, LANES, MOTIONS, SIZES, Scene, Thing, object_classes

WORLD_SEED = "mmbind-synth-world-v1"  # fixes the class prior and companions for every dataset seed
ZIPF = 0.7  # exponent of the class prior
COMPANION_P = 0.6  # chance that a further object is a companion of one already drawn
IMAGE_COUNTS = ((1, 0.35), (2, 0.30), (3, 0.20), (4, 0.15))  # objects per image, weights
VIDEO_STILL = ((0, 0.4), (1, 0.35), (2, 0.25))  # still objects per video, weights
JITTER = 0.04  # max centre offset, as a fraction of the frame
COLOUR_JITTER = 10  # max offset added to every RGB channel


@lru_cache(maxsize=1)
def class_prior() -> dict[str, float]:
    """Object class -> prior weight (Zipf over a fixed shuffled order)."""
    order = object_classes()
    random.Random(WORLD_SEED).shuffle(order)
    return {name: 1.0 / (rank + 1) ** ZIPF for rank, name in enumerate(order)}


@lru_cache(maxsize=1)
def companions() -> dict[str, tuple[str, ...]]:
    """Object class -> the two classes it tends to appear with."""
    rng = random.Random(WORLD_SEED + ":companions")
    names = object_classes()
    out = {}
    for name in names:
        others = [n for n in names if n.split()[0] != name.split()[0] and n.split()[1] != name.split()[1]]
        out[name] = tuple(rng.sample(others, 2))
    return out


def _weighted(rng: random.Random, pairs: tuple[tuple[int, float], ...]) -> int:
    return rng.choices([v for v, _ in pairs], weights=[w for _, w in pairs])[0]


def draw_classes(
    rng: random.Random, n: int, allowed: list[str] | None = None, given: tuple[str, ...] = ()
) -> list[str]:
    """``n`` distinct object classes besides ``given``: each from the prior over ``allowed`` (default: all),
    or with chance COMPANION_P a companion of a class already in the scene."""
    prior = class_prior()
    pool = allowed if allowed is not None else list(prior)
    chosen: list[str] = list(given)
    while len(chosen) < n + len(given):
        friends = [c for name in chosen for c in companions()[name] if c not in chosen and c in pool]
        if friends and rng.random() < COMPANION_P:
            chosen.append(rng.choice(friends))
            continue
        free = [c for c in pool if c not in chosen]
        chosen.append(rng.choices(free, weights=[prior[c] for c in free])[0])
    return chosen[len(given):]


def _thing(
    rng: random.Random, name: str, position: str, motion: str | None = None, size: str | None = None
) -> Thing:
    colour, shape = name.split()
    dx, dy = rng.uniform(-JITTER, JITTER), rng.uniform(-JITTER, JITTER)
    jitter = (dx, dy, rng.randint(-COLOUR_JITTER, COLOUR_JITTER))
    return Thing(colour, shape, size or rng.choice(list(SIZES)), position, motion, jitter)


def sample_image_scene(rng: random.Random) -> Scene:
    """A random image scene."""
    n = _weighted(rng, IMAGE_COUNTS)
    cells = rng.sample(list(CELLS), n)
    things = tuple(_thing(rng, name, cell) for name, cell in zip(draw_classes(rng, n), cells))
    return Scene("image", rng.choice(list(BACKGROUNDS)), things)


def sample_video_scene(rng: random.Random) -> Scene:
    """A random video scene; ``things[0]`` moves."""
    motion = rng.choice(MOTIONS)
    n_still = _weighted(rng, VIDEO_STILL)
    pool = [c for c in object_classes() if not (motion == "rotating" and c.endswith("circle"))]
    actor_class = draw_classes(rng, 1, pool)[0]
    names = [actor_class, *draw_classes(rng, n_still, given=(actor_class,))]
    if motion in LANES:
        lane = rng.choice(LANES[motion])
        free = [c for c in CELLS if lane not in c.split()]  # cells off the actor's row / column
        actor = _thing(rng, names[0], lane, motion)
    else:
        cell = rng.choice(list(CELLS))
        free = [c for c in CELLS if c != cell]
        actor = _thing(rng, names[0], cell, motion, "large" if motion == "growing" else None)
    n_still = min(n_still, len(free))
    still = [_thing(rng, name, cell) for name, cell in zip(names[1:1 + n_still], rng.sample(free, n_still))]
    return Scene("video", rng.choice(list(BACKGROUNDS)), (actor, *still))


def sample_unique(
    sample: Callable[[random.Random], Scene], rng: random.Random, count: int, seen: set[str],
    max_tries: int = 200,
) -> list[Scene]:
    """``count`` scenes whose signatures are not in ``seen`` (which is updated)."""
    out: list[Scene] = []
    while len(out) < count:
        for _ in range(max_tries):
            scene = sample(rng)
            if scene.signature() not in seen:
                break
        else:
            raise DataError(
                f"could not find {count} distinct scenes: the concept space is too small for this size"
            )
        seen.add(scene.signature())
        out.append(scene)
    return out

