"""The long-video world: deterministic for a seed, train and eval disjoint, questions whose answers the
frames really show (the flasher only inside its bursts, the mover reversing at its turn), and the
frame counts at which a uniform sample catches a burst."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from mmbind.errors import OutputFolderError, UsageError
from mmbind.media import frame_indices, read_frames
from mmbind.synth import generate_dataset
from mmbind.synth.concepts import CELLS, COLOURS
from mmbind.synth.long_world import (
    FLASH_GAP,
    FLASH_LEN,
    TRAVEL,
    mover_offset,
    render_long_video,
    sample_long_scene,
)


@pytest.fixture(scope="module")
def long_micro(tmp_path_factory):
    out = tmp_path_factory.mktemp("long")
    return out, generate_dataset(out, size="micro", world="long")


def test_deterministic_and_disjoint(long_micro, tmp_path):
    out, manifest = long_micro
    again = generate_dataset(tmp_path / "again", size="micro", world="long")
    assert again["files"] == manifest["files"]  # every file byte-identical for the seed
    assert manifest["world"] == "long" and manifest["counts"]["train_video"] == 12
    scenes = json.loads((out / "scenes.json").read_text())
    keys = [(s["background"], s["flasher"]["colour"], s["flasher"]["shape"], s["flasher"]["position"],
             s["mover"]["colour"], s["mover"]["shape"], s["mover"]["position"], s["mover"]["motion"],
             len(s["bursts"]), s["turn"] is not None) for s in scenes]
    assert len(set(keys)) == len(keys)
    held_out = json.loads((out / "eval" / "long_open.json").read_text())
    assert [r["type"] for r in held_out[:4]] == ["flash_colour", "flashes", "end_direction", "mover_colour"]
    assert len(held_out) == 4 * 6 and manifest["eval_sets"]["long_open"]["samples"] == 24
    with pytest.raises(OutputFolderError, match="directory is not empty"):
        generate_dataset(out, size="micro", world="long")
    with pytest.raises(UsageError, match="unknown synthetic world 'short'"):
        generate_dataset(tmp_path / "x", world="short")


def test_scenes_follow_their_rules():
    rng = random.Random(3)
    for _ in range(300):
        scene = sample_long_scene(rng, 48)
        assert scene.flasher.colour != scene.mover.colour
        starts = scene.bursts
        assert all(FLASH_GAP <= s and s + FLASH_LEN + FLASH_GAP <= 48 for s in starts)
        assert all(b - a >= FLASH_LEN + FLASH_GAP for a, b in zip(starts, starts[1:]))
        offsets = [mover_offset(scene, f) for f in range(48)]
        near, far = TRAVEL  # a turn before half-way brings it back a little past its start: still in frame
        assert all(0.1 < near + (far - near) * o <= far for o in offsets)
        if scene.turn is None:
            assert scene.end_direction == scene.start_direction and offsets == sorted(offsets)
        else:
            assert offsets[scene.turn + 1] < offsets[scene.turn]
            assert scene.end_direction != scene.start_direction


def test_frames_show_the_flasher_only_inside_its_bursts(long_micro):
    out, _ = long_micro
    entry = json.loads((out / "scenes.json").read_text())[0]
    frames = read_frames(out / entry["path"], 48)
    cx, cy = CELLS[entry["flasher"]["position"]]
    patch = frames[:, int(cy * 32) - 2:int(cy * 32) + 2, int(cx * 32) - 2:int(cx * 32) + 2].reshape(48, -1, 3)
    target = np.array(COLOURS[entry["flasher"]["colour"]])
    shown = [bool(np.abs(p.mean(0) - target).max() < 40) for p in patch]
    expected = [any(s <= f < s + FLASH_LEN for s in entry["bursts"]) for f in range(48)]
    assert shown == expected


def test_more_frames_catch_more_bursts():
    rng = random.Random(0)
    scenes = [sample_long_scene(rng, 48) for _ in range(400)]

    def caught(frames: int) -> float:
        picked = frame_indices(48, frames)
        return float(np.mean([any(scene.visible(int(f)) for f in picked) for scene in scenes]))

    assert caught(4) < 0.7 < caught(8) < caught(16) == 1.0
    frames = render_long_video(scenes[0], 32)
    assert frames.shape == (48, 32, 32, 3) and frames.dtype == np.uint8
