"""long_world.py

The long-video world (``mmbind data synth OUT --world long``): clips of many frames whose questions need
more than a few sampled frames to answer.

Every clip holds two objects on a plain background:

- a *flasher*, still in a grid cell, visible only during 1-3 short bursts of FLASH_LEN frames ("What colour is
  the object that flashes?", "How many times does the red circle flash?"). Bursts start at random frames, at
  least FLASH_GAP frames apart. A uniform sample of T frames sees a burst only if one of its frames falls
  inside it: 16 of 48 frames see every burst, 4 frames about a third of them. The two objects never share a
  colour, so only a frame showing the flasher tells its colour.
- a *mover* on a lane (the other row or column than the flasher's cell), starting on one side and travelling
  towards the other; in half of the clips it turns back at a random frame between TURN_FROM and TURN_TO of the
  clip (a turn before half-way brings it back a little past its start, still in frame): "Which way is the blue
  square moving at the end?". Its colour, shown in every frame, is the control question ("What colour is the
  moving object?") any frame count answers.

Scenes are pure data; `render_long_video` draws them with the image world's shapes and colours
(`mmbind.synth.draw.draw_thing`), so the same pixels come out for a seed.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from mmbind.synth.concepts import BACKGROUNDS, CELLS, COLOURS, SHAPES, Thing
from mmbind.synth.draw import SUPERSAMPLE, draw_thing, thing_colour

FLASH_LEN = 4  # frames a burst lasts
FLASH_GAP = 5  # least frames between two bursts (and before the first / after the last)
FLASHES = (1, 2, 3)  # how many bursts a clip holds
TURN_FROM, TURN_TO = 0.45, 0.9  # where in the clip (fraction of its frames) a turn may happen
TRAVEL = (0.22, 0.78)  # the mover's start and far end along its lane (frame fractions)
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}
_LANE_AT = {"top": 0.25, "bottom": 0.75, "left": 0.25, "right": 0.75}


@dataclass(frozen=True)
class LongScene:
    """One long clip."""

    background: str  # key of BACKGROUNDS
    flasher: Thing  # still, in a cell
    bursts: tuple[int, ...]  # first frame of each burst
    mover: Thing  # ``position``: its lane; ``motion``: the direction it starts in
    turn: int | None  # frame at which the mover reverses (None: it never does)
    frames: int  # frames in the clip

    @property
    def start_direction(self) -> str:
        """The mover's direction at the first frame."""
        assert self.mover.motion is not None
        return self.mover.motion

    @property
    def end_direction(self) -> str:
        """The mover's direction at the last frame."""
        return self.start_direction if self.turn is None else OPPOSITE[self.start_direction]

    def visible(self, frame: int) -> bool:
        """Whether the flasher shows at ``frame``."""
        return any(start <= frame < start + FLASH_LEN for start in self.bursts)

    def signature(self) -> str:
        """Attributes without jitter and timing: no two clips of a dataset share one with its answers."""
        return repr((self.background, self.flasher.key(), self.mover.key(), len(self.bursts),
                     self.turn is not None, self.frames))

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description (for scenes.json)."""
        return {"background": self.background, "flasher": asdict(self.flasher), "bursts": list(self.bursts),
                "mover": asdict(self.mover), "turn": self.turn, "frames": self.frames}


def _bursts(rng: random.Random, count: int, frames: int) -> tuple[int, ...]:
    """``count`` burst starts, each burst inside the clip and FLASH_GAP frames from the others / the ends."""
    while True:
        starts = sorted(rng.randrange(FLASH_GAP, frames - FLASH_LEN - FLASH_GAP + 1) for _ in range(count))
        if all(b - a >= FLASH_LEN + FLASH_GAP for a, b in zip(starts, starts[1:])):
            return tuple(starts)


def sample_long_scene(rng: random.Random, frames: int) -> LongScene:
    """A random long clip of ``frames`` frames."""
    colours = rng.sample(list(COLOURS), 2)  # distinct: only the flasher shows the flasher's colour
    flash_name, move_name = (colours[0], rng.choice(SHAPES)), (colours[1], rng.choice(SHAPES))
    cell = rng.choice(list(CELLS))
    row, column = cell.split()
    direction = rng.choice(list(OPPOSITE))
    lane = ("bottom" if row == "top" else "top") if direction in ("left", "right") else \
        ("right" if column == "left" else "left")
    flasher = Thing(*flash_name, "small", cell, None, (0.0, 0.0, rng.randint(-10, 10)))
    mover = Thing(*move_name, "small", lane, direction, (0.0, 0.0, rng.randint(-10, 10)))
    turn = rng.randint(round(TURN_FROM * (frames - 1)), round(TURN_TO * (frames - 1))) if rng.random() < 0.5 \
        else None
    return LongScene(rng.choice(list(BACKGROUNDS)), flasher, _bursts(rng, rng.choice(FLASHES), frames), mover,
                     turn, frames)


def mover_offset(scene: LongScene, frame: int) -> float:
    """How far along its lane (0: start, 1: far end) the mover is at ``frame``."""
    last = max(scene.frames - 1, 1)
    if scene.turn is None or frame <= scene.turn:
        return frame / last
    return (2 * scene.turn - frame) / last


def _mover_at(scene: LongScene, frame: int) -> Thing:
    """The mover as a still `Thing` placed where it is at ``frame`` (jitter carries the offset)."""
    mover, near, far = scene.mover, *TRAVEL
    along = near + (far - near) * mover_offset(scene, frame)
    if mover.motion in ("left", "up"):
        along = 1.0 - along
    across = _LANE_AT[mover.position]
    x, y = (along, across) if mover.motion in ("left", "right") else (across, along)
    anchor = CELLS["top left"]
    return replace(mover, position="top left", motion=None,
                   jitter=(x - anchor[0], y - anchor[1], mover.jitter[2]))


def render_long_video(scene: LongScene, size: int) -> np.ndarray:
    """``(frames, size, size, 3)`` uint8 RGB frames of ``scene``."""
    big = size * SUPERSAMPLE
    out = []
    for frame in range(scene.frames):
        image = Image.new("RGB", (big, big), BACKGROUNDS[scene.background])
        draw = ImageDraw.Draw(image)
        if scene.visible(frame):
            draw_thing(draw, scene.flasher, 0.0, big, thing_colour(scene.flasher))
        mover = _mover_at(scene, frame)
        draw_thing(draw, mover, 0.0, big, thing_colour(mover))
        out.append(np.asarray(image.reduce(SUPERSAMPLE)))
    return np.stack(out)
