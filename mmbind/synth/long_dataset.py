"""long_dataset.py

`generate_long_dataset`: the long-video benchmark (``mmbind data synth OUT --world long``), a dataset of
its own next to the image + video one (whose files it leaves alone):

    OUT/videos/NNNNN.mp4  OUT/eval/videos/   clips of LONG_FRAMES frames (H.264, 4 frames/s)
    OUT/pretrain.json                        one description per clip (captions, for the align stage)
    OUT/finetune.json                        conversations: description, flash counts, directions
    OUT/eval/long_open.json                  held-out questions, types ``flash_colour`` (what colour the
                                             flashing object is: seen only if a sampled frame catches a
                                             burst; 6 colours), ``flashes`` (1-3), ``end_direction``
                                             (the lane fixes the axis: chance 1/2) and ``mover_colour``
                                             (the control: every frame shows it)
    OUT/scenes.json  OUT/tokenizer/  OUT/manifest.json

Size presets (``--size``): ``micro`` for tests, ``small``, ``default`` (the compression study's). Clips are
32 px (the tiny towers read 28 px) and always LONG_FRAMES long. Deterministic for a seed, train and eval
disjoint by scene signature, as `mmbind.synth.generate` is.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from mmbind.errors import DataError, UsageError
from mmbind.synth.items import gpt, human
from mmbind.synth.long_world import LongScene, render_long_video, sample_long_scene
from mmbind.synth.manifest import write_manifest
from mmbind.synth.media_io import write_video
from mmbind.synth.questions import SHORT_SUFFIX
from mmbind.synth.tokenizer import train_tokenizer

LONG_FRAMES = 48  # frames per clip
LONG_SIZE_PX = 32  # clip side in pixels
LONG_SIZES: dict[str, tuple[int, int]] = {  # preset -> (train clips, eval clips)
    "micro": (12, 6), "small": (300, 60), "default": (2400, 150)}
EVAL_TYPES = ("flash_colour", "flashes", "end_direction", "mover_colour")
TRAIN_KINDS = {"describe": 1.0, "flash_colour": 1.5, "flashes": 1.5, "end_direction": 1.5,
               "start_direction": 0.5, "turn": 0.5, "mover_colour": 1.0, "shape": 0.5}  # kind -> weight
SHORT_P = 0.6  # chance that a question round asks for a short answer
TIMES = {1: "once", 2: "twice", 3: "three times"}


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"mmbind-synth-long:{seed}:{purpose}")


def question(kind: str, scene: LongScene) -> tuple[str, str, str]:
    """(question, short answer, sentence) of type ``kind`` about ``scene``."""
    flasher, mover = scene.flasher.name, scene.mover.name
    if kind == "flashes":
        n = len(scene.bursts)
        return (f"How many times does the {flasher} flash?", str(n),
                f"The {flasher} flashes {TIMES[n]}.")
    if kind in ("end_direction", "start_direction"):
        when = "end" if kind == "end_direction" else "start"
        way = scene.end_direction if when == "end" else scene.start_direction
        return (f"Which way is the {mover} moving at the {when}?", way,
                f"At the {when}, the {mover} is moving {way}.")
    if kind == "turn":
        turned = scene.turn is not None
        return (f"Does the {mover} turn back?", "yes" if turned else "no",
                f"Yes, the {mover} turns back." if turned else f"No, the {mover} keeps moving "
                f"{scene.start_direction}.")
    if kind == "flash_colour":
        return ("What colour is the object that flashes?", scene.flasher.colour,
                f"The object that flashes is {scene.flasher.colour}.")
    if kind == "mover_colour":
        return ("What colour is the moving object?", scene.mover.colour,
                f"The moving object is {scene.mover.colour}.")
    if kind == "shape":
        return ("What shape is the moving object?", scene.mover.shape,
                f"The moving object is a {scene.mover.shape}.")
    raise ValueError(f"unknown question kind {kind!r}")


def describe(scene: LongScene) -> str:
    """A one-sentence description of the whole clip."""
    n = len(scene.bursts)
    back = (f", then turns back and moves {scene.end_direction}" if scene.turn is not None else "")
    return (f"A {scene.flasher.name} flashes {TIMES[n]} in the {scene.flasher.position} while a "
            f"{scene.mover.name} moves {scene.start_direction}{back}.")


def _sample(sample_id: str, path: str, turns: list[dict[str, str]], **fields: Any) -> dict[str, Any]:
    return {"id": sample_id, "video": path, **fields, "conversations": turns}


def training_record(sample_id: str, path: str, scene: LongScene, rng: random.Random) -> dict[str, Any]:
    """A multi-turn conversation about one training clip."""
    kinds: list[str] = []
    for _ in range(rng.choice((2, 3, 3, 4))):
        free = [k for k in TRAIN_KINDS if k not in kinds]
        kinds.append(rng.choices(free, weights=[TRAIN_KINDS[k] for k in free])[0])
    turns: list[dict[str, str]] = []
    for kind in kinds:
        if kind == "describe":
            text, answer = "Describe the video.", describe(scene)
        else:
            text, short, sentence = question(kind, scene)
            use_short = rng.random() < SHORT_P
            text, answer = (f"{text}\n{SHORT_SUFFIX}", short) if use_short else (text, sentence)
        turns += [human(f"<video>\n{text}" if not turns else text), gpt(answer)]
    return _sample(sample_id, path, turns)


def caption_record(sample_id: str, path: str, scene: LongScene) -> dict[str, Any]:
    """A caption sample: the clip and its description."""
    return _sample(sample_id, path, [human("<video>\nDescribe the video briefly."), gpt(describe(scene))])


def eval_records(sample_id: str, path: str, scene: LongScene) -> list[dict[str, Any]]:
    """One short-answer question of every EVAL_TYPES about a held-out clip."""
    out = []
    for kind in EVAL_TYPES:
        text, short, _ = question(kind, scene)
        turns = [human(f"<video>\n{text}\n{SHORT_SUFFIX}"), gpt(short)]
        out.append(_sample(f"{sample_id}-{kind}", path, turns, type=kind, answer=short))
    return out


def _scenes(seed: int, train: int, held_out: int) -> dict[str, list[LongScene]]:
    rng, seen, out = _rng(seed, "scenes"), set(), {}
    for split, count in (("eval", held_out), ("train", train)):
        scenes: list[LongScene] = []
        while len(scenes) < count:
            for _ in range(200):
                scene = sample_long_scene(rng, LONG_FRAMES)
                if scene.signature() not in seen:
                    break
            else:
                raise DataError(f"could not find {count} distinct long clips")
            seen.add(scene.signature())
            scenes.append(scene)
        out[split] = scenes
    return out


def check_size(size: str) -> None:
    """`UsageError` unless ``size`` is one of LONG_SIZES."""
    if size not in LONG_SIZES:
        raise UsageError(f"unknown dataset size {size!r} (choose from: {', '.join(LONG_SIZES)})")


def generate_long_dataset(out: str | Path, seed: int = 0, size: str = "default") -> dict[str, Any]:
    """Generate the long-video dataset into ``out`` (new or empty); returns the manifest."""
    check_size(size)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out}: must be a new or empty directory")
    train_count, eval_count = LONG_SIZES[size]
    scenes = _scenes(seed, train_count, eval_count)
    pretrain, finetune, held_out, listing = [], [], [], []
    for split, group in scenes.items():
        for i, scene in enumerate(group):
            path = f"videos/{i:05d}.mp4"
            dataset_path = path if split == "train" else f"eval/{path}"
            write_video(render_long_video(scene, LONG_SIZE_PX), out / dataset_path)
            sample_id = f"{split}-long-{i:05d}"
            listing.append({"id": sample_id, "split": split, "path": dataset_path, **scene.to_json()})
            if split == "train":
                pretrain.append(caption_record(sample_id, path, scene))
                finetune.append(training_record(sample_id, path, scene, _rng(seed, f"instruct:{sample_id}")))
            else:
                held_out += eval_records(sample_id, path, scene)
    _rng(seed, "pretrain-order").shuffle(pretrain)
    _rng(seed, "finetune-order").shuffle(finetune)
    files = {"pretrain.json": pretrain, "finetune.json": finetune, "eval/long_open.json": held_out,
             "scenes.json": listing}
    for name, data in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tokenizer = train_tokenizer([pretrain, finetune, held_out], out / "tokenizer")
    return write_manifest(out, {
        "world": "long", "seed": seed,
        "size": {"name": size, "media_size": LONG_SIZE_PX, "frames": LONG_FRAMES},
        "counts": {"train_video": train_count, "eval_video": eval_count, "pretrain": len(pretrain),
                   "finetune": len(finetune)},
        "train": {"pretrain": "pretrain.json", "finetune": "finetune.json"},
        "eval_sets": {"long_open": {"file": "eval/long_open.json", "kind": "open", "modality": "video",
                                    "samples": len(held_out)}},
        "scenes": "scenes.json", "tokenizer": tokenizer,
    })
