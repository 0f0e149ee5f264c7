"""depth.py

Depth maps of the image scenes, stored as NYU-Depth v2 and LanguageBind's depth data are: one 16-bit
single-channel PNG (PIL mode ``I;16``) per training and evaluation image, holding each pixel's distance
from the camera in millimetres (LanguageBind reads it with ``cv2.IMREAD_UNCHANGED``, divides by 1000 and
clamps at its ``max_depth`` of 10 m). Videos get none.

Every object of a scene stands between NEAREST_MM and FARTHEST_MM, at least MIN_GAP_MM from every other
object of the scene (so "which is nearer" is never a close call); the background is BACKGROUND_MM.
Distances come from a random stream of their own per image (``depth:<image id>``), independent of
everything the RGB image shows, and the RGB image is drawn exactly as without depth: an object's size in
the frame does not depend on its distance, so only the depth map tells distances apart.

The map uses the RGB frame's geometry (`draw_thing`) drawn at SUPERSAMPLE x the output size; each output
pixel takes the distance that covers most of its block (ties: the nearer one), so a map holds only the
scene's distances, without blended in-between values at edges. Objects sit in distinct grid cells and never
overlap (they are drawn far to near all the same).

Distances are listed in ``depth.json`` (``scenes.json`` is left as it was): per image ``{"id", "split",
"image", "depth", "objects", "distances_mm", "background_mm"}``, dataset-relative paths, ``objects`` and
``distances_mm`` in the order of the scene's ``things``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from mmbind.synth.concepts import Scene, Thing
from mmbind.synth.draw import SUPERSAMPLE, draw_thing
from mmbind.synth.items import GeneratedMedia

NEAREST_MM = 1000  # closest an object stands
FARTHEST_MM = 9000  # farthest an object stands
MIN_GAP_MM = 1500  # least difference between two objects of a scene
BACKGROUND_MM = 10000  # the background (LanguageBind's max_depth)


@dataclass(frozen=True)
class DepthItem:
    """A training or evaluation image with its objects' distances (and so its depth map)."""

    media: GeneratedMedia  # the RGB image
    distances: tuple[int, ...]  # millimetres, one per ``media.scene.things``

    @property
    def id(self) -> str:
        """E.g. ``"train-depth-00012"``."""
        return self.media.id.replace("-image-", "-depth-")

    @property
    def scene(self) -> Scene:
        """What the image shows."""
        return self.media.scene

    @property
    def path(self) -> str:
        """The depth map's path relative to the split's folder, e.g. ``depth/00012.png``."""
        return f"depth/{PurePosixPath(self.media.path).stem}.png"

    @property
    def dataset_path(self) -> str:
        """The depth map's path relative to the dataset directory (evaluation maps under ``eval/``)."""
        return self.path if self.media.split == "train" else f"eval/{self.path}"

    def distance(self, thing: Thing) -> int:
        """``thing``'s distance in millimetres."""
        return self.distances[self.scene.things.index(thing)]

    def by_distance(self) -> list[Thing]:
        """The scene's objects from the nearest to the farthest."""
        return sorted(self.scene.things, key=self.distance)

    def to_json(self) -> dict[str, Any]:
        """Its ``depth.json`` entry."""
        return {"id": self.media.id, "split": self.media.split, "image": self.media.dataset_path,
                "depth": self.dataset_path, "objects": self.scene.classes,
                "distances_mm": list(self.distances), "background_mm": BACKGROUND_MM}


def sample_distances(n: int, rng: random.Random) -> tuple[int, ...]:
    """``n`` distances (mm) in NEAREST_MM..FARTHEST_MM, pairwise at least MIN_GAP_MM apart, in random
    order (uniform over such sets: sorted uniform offsets spread by the gap)."""
    slack = FARTHEST_MM - NEAREST_MM - (n - 1) * MIN_GAP_MM
    offsets = sorted(rng.randint(0, slack) for _ in range(n))
    values = [NEAREST_MM + offset + i * MIN_GAP_MM for i, offset in enumerate(offsets)]
    rng.shuffle(values)
    return tuple(values)


def depth_items(images: list[GeneratedMedia], stream: Callable[[str], random.Random]) -> list[DepthItem]:
    """Distances for every image, each from its own stream ``stream(f"depth:{id}")``."""
    return [DepthItem(item, sample_distances(len(item.scene.things), stream(f"depth:{item.id}")))
            for item in images]


def render_depth(scene: Scene, distances: tuple[int, ...], size: int) -> np.ndarray:
    """The ``(size, size)`` uint16 depth map (mm) of an image ``scene`` whose objects stand at
    ``distances``."""
    big = size * SUPERSAMPLE
    canvas = Image.new("I", (big, big), BACKGROUND_MM)
    draw = ImageDraw.Draw(canvas)
    for mm, thing in sorted(zip(distances, scene.things), key=lambda pair: -pair[0]):  # far to near
        draw_thing(draw, thing, 0.0, big, mm)
    blocks = np.asarray(canvas, dtype=np.int64).reshape(size, SUPERSAMPLE, size, SUPERSAMPLE)
    blocks = blocks.transpose(0, 2, 1, 3).reshape(size, size, SUPERSAMPLE * SUPERSAMPLE)
    values = np.unique(blocks)  # ascending: the nearest first, so argmax breaks ties towards it
    votes = np.stack([(blocks == value).sum(-1) for value in values])
    return values[votes.argmax(0)].astype(np.uint16)


def write_depth(depth: np.ndarray, path: Path) -> None:
    """Save a uint16 depth map as a 16-bit grayscale PNG (PIL mode ``I;16``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.ascontiguousarray(depth, dtype="<u2"))
    assert image.mode == "I;16"
    image.save(path, format="PNG", optimize=False)
