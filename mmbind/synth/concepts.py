"""concepts.py

The vocabulary of the synthetic world, shared by images and videos: object colours, shapes and sizes,
positions on a 2 x 2 grid (one cell per patch of the tiny 28 px / patch-14 towers), backgrounds and the
video motions, plus the `Thing` / `Scene` records that the renderer draws and the text generator describes.

An *object class* (what POPE probes ask about) is a (colour, shape) pair, e.g. "red circle".
A scene's `signature` is its attribute combination without render jitter; no signature occurs twice in a
generated dataset, which is what keeps train and evaluation splits disjoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

COLOURS: dict[str, tuple[int, int, int]] = {  # object colour name -> RGB
    "red": (220, 40, 40),
    "green": (40, 175, 70),
    "blue": (50, 90, 230),
    "yellow": (240, 215, 40),
    "purple": (150, 60, 200),
    "cyan": (40, 200, 215),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
SIZES: dict[str, float] = {"small": 0.22, "large": 0.40}  # size name -> side as a fraction of the frame
BACKGROUNDS: dict[str, tuple[int, int, int]] = {  # background name -> RGB
    "black": (15, 15, 15), "grey": (128, 128, 128), "white": (240, 240, 240),
}
CELLS: dict[str, tuple[float, float]] = {  # grid cell -> centre (x, y) as fractions of the frame
    "top left": (0.25, 0.25),
    "top right": (0.75, 0.25),
    "bottom left": (0.25, 0.75),
    "bottom right": (0.75, 0.75),
}
MOVES: dict[str, tuple[float, float]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
LANES: dict[str, tuple[str, ...]] = {  # motion -> lanes it may use: rows (left/right), columns (up/down)
    "left": ("top", "bottom"), "right": ("top", "bottom"), "up": ("left", "right"), "down": ("left", "right"),
}
MOTIONS: tuple[str, ...] = ("left", "right", "up", "down", "rotating", "growing", "appearing")
MOTION_ANSWERS: dict[str, str] = {  # motion -> canonical short answer to "What is the X doing?"
    "left": "moving left", "right": "moving right", "up": "moving up", "down": "moving down",
    "rotating": "rotating", "growing": "growing", "appearing": "appearing",
}
NUMBER_WORDS: tuple[str, ...] = (  # index -> word
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)


def object_classes() -> list[str]:
    """Every object class ("colour shape"), in a fixed order."""
    return [f"{c} {s}" for c in COLOURS for s in SHAPES]


@dataclass(frozen=True)
class Thing:
    """One drawn object."""

    colour: str  # key of COLOURS
    shape: str  # one of SHAPES
    size: str  # key of SIZES
    position: str  # a CELLS key; for a translating object its lane ("top", "bottom", "left", "right")
    motion: str | None = None  # one of MOTIONS (videos' actor only)
    jitter: tuple[float, float, int] = (0.0, 0.0, 0)  # (dx, dy) as frame fractions, colour offset

    @property
    def name(self) -> str:
        """Its object class, e.g. "red circle"."""
        return f"{self.colour} {self.shape}"

    def key(self) -> tuple[str, str, str, str, str]:
        """Attributes without jitter."""
        return (self.colour, self.shape, self.size, self.position, self.motion or "")


@dataclass(frozen=True)
class Scene:
    """An image (no actor) or a video (``things[0]`` is the actor, the rest stay still)."""

    modality: str  # "image" or "video"
    background: str  # key of BACKGROUNDS
    things: tuple[Thing, ...]  # objects; positions are distinct cells (or the actor's lane)

    @property
    def actor(self) -> Thing | None:
        """The moving object of a video (``things[0]``, the one thing with a motion); None in an image."""
        return self.things[0] if self.things and self.things[0].motion is not None else None

    @property
    def classes(self) -> list[str]:
        """Object classes present, in drawing order."""
        return [t.name for t in self.things]

    def signature(self) -> str:
        """The attribute combination (order-free for still objects), without jitter."""
        still = sorted(t.key() for t in self.things if t.motion is None)
        moving = [t.key() for t in self.things if t.motion is not None]
        return repr((self.modality, self.background, moving, still))

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description (for scenes.json)."""
        return {"modality": self.modality, "background": self.background,
                "things": [asdict(t) | {"jitter": list(t.jitter)} for t in self.things]}
