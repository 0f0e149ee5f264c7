"""draw.py

Rendering scenes to pixels: every frame is drawn at SUPERSAMPLE x the output size and box-filtered down,
so edges are anti-aliased and small shapes stay recognisable after the encoders' resize. Pure functions of
the scene (jitter is part of the scene), so media are identical for a seed.

Video motions over the clip (progress p from 0 to 1): translating objects travel from one cell centre of
their lane to the other; ``rotating`` turns by up to ROTATION degrees; ``growing`` scales from GROW_FROM to
full size; ``appearing`` is absent until p >= APPEAR_AT.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from mmbind.synth.concepts import BACKGROUNDS, CELLS, COLOURS, MOVES, SIZES, Scene, Thing

SUPERSAMPLE = 4  # drawing scale before the box filter
ROTATION = 75.0  # degrees turned by a rotating object over the clip
GROW_FROM = 0.45  # starting scale of a growing object
APPEAR_AT = 0.4  # progress from which an appearing object is visible
_LANE_AXIS = {"top": 0.25, "bottom": 0.75, "left": 0.25, "right": 0.75}  # lane -> its fixed coordinate


def thing_colour(thing: Thing) -> tuple[int, int, int]:
    """The RGB fill of ``thing`` (its colour with its jitter)."""
    r, g, b = COLOURS[thing.colour]
    d = thing.jitter[2]
    return (min(255, max(0, r + d)), min(255, max(0, g + d)), min(255, max(0, b + d)))


def placement(thing: Thing, progress: float) -> tuple[float, float, float, float] | None:
    """(centre x, centre y, side, angle) in frame fractions at ``progress``; None while invisible."""
    side, angle = SIZES[thing.size], 0.0
    if thing.motion in MOVES:
        dx, dy = MOVES[thing.motion]
        start = 0.75 if (dx or dy) < 0 else 0.25  # left / up start in the right / bottom cells
        travel = start + (1 - 2 * start) * progress
        cx, cy = (travel, _LANE_AXIS[thing.position]) if dx else (_LANE_AXIS[thing.position], travel)
    else:
        cx, cy = CELLS[thing.position]
        if thing.motion == "rotating":
            angle = ROTATION * progress
        elif thing.motion == "growing":
            side *= GROW_FROM + (1 - GROW_FROM) * progress
        elif thing.motion == "appearing" and progress < APPEAR_AT:
            return None
    return cx + thing.jitter[0], cy + thing.jitter[1], side, angle


def _polygon(shape: str, cx: float, cy: float, half: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    else:  # triangle pointing up, inscribed in the box
        corners = [(0, -1), (1, 0.85), (-1, 0.85)]
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    return [(cx + half * (x * cos - y * sin), cy + half * (x * sin + y * cos)) for x, y in corners]


def draw_thing(
    draw: ImageDraw.ImageDraw, thing: Thing, progress: float, big: int, fill: int | tuple[int, int, int]
) -> None:
    """Fill ``thing``'s shape at ``progress`` with ``fill`` on a ``big`` x ``big`` canvas (nothing while
    it is invisible); the RGB frames and the depth maps (`mmbind.synth.depth`) share this geometry."""
    place = placement(thing, progress)
    if place is None:
        return
    cx, cy, half = place[0] * big, place[1] * big, place[2] * big / 2
    angle = place[3]
    if thing.shape == "circle":
        draw.ellipse((cx - half, cy - half, cx + half, cy + half), fill=fill)
    else:
        draw.polygon(_polygon(thing.shape, cx, cy, half, angle), fill=fill)


def render_frame(scene: Scene, size: int, progress: float = 0.0) -> Image.Image:
    """One ``size`` x ``size`` RGB frame of ``scene`` at ``progress``."""
    big = size * SUPERSAMPLE
    image = Image.new("RGB", (big, big), BACKGROUNDS[scene.background])
    draw = ImageDraw.Draw(image)
    for thing in scene.things:
        draw_thing(draw, thing, progress, big, thing_colour(thing))
    return image.reduce(SUPERSAMPLE)


def render_video(scene: Scene, size: int, frames: int) -> np.ndarray:
    """``(frames, size, size, 3)`` uint8 frames of ``scene`` over the whole motion."""
    steps = [t / max(frames - 1, 1) for t in range(frames)]
    return np.stack([np.asarray(render_frame(scene, size, p)) for p in steps])
