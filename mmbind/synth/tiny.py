"""tiny.py

A tiny, fast synthetic dataset for tests, demos and benchmarks (the full generator is `generate_dataset`):
one coloured shape on grey per PNG image, a square moving left or right per mp4 clip, stage-1 caption files
(``plain``), stage-2 multi-turn instruction files (``vicuna_v1``, images, videos and text-only mixed) and a
small tokenizer trained on all of the text. Files are written by the generator's `media_io`; the palette
is this dataset's own (the tests' expected results were tuned on it).

    python -m mmbind.synth.tiny data/tiny            # then: mmbind train tiny/train
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mmbind.data.toy_tokenizer import build_tokenizer
from mmbind.prompting.templates import VICUNA_SYSTEM
from mmbind.synth.media_io import write_image, write_video

TINY_COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220), "yellow": (230, 210, 40)}
TINY_SHAPES = ("square", "circle")
BACKGROUND = (128, 128, 128)  # grey


def shape_image(colour: str, shape: str, size: int = 40) -> Image.Image:
    """A ``shape`` of ``colour`` in the middle of a grey ``size`` x ``size`` image."""
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    box = (size // 4, size // 4, 3 * size // 4, 3 * size // 4)
    (draw.rectangle if shape == "square" else draw.ellipse)(box, fill=TINY_COLOURS[colour])
    return image


def moving_square(colour: str, direction: str, frames: int = 12, size: int = 32) -> np.ndarray:
    """``(frames, size, size, 3)`` uint8 frames of a ``colour`` square moving ``direction`` (left or
    right)."""
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    side, top = size // 4, (3 * size) // 8
    for t in range(frames):
        out[t] = BACKGROUND
        x = int((t / max(frames - 1, 1)) * (size - side))
        x = x if direction == "right" else size - side - x
        out[t, top:top + side, x:x + side] = TINY_COLOURS[colour]
    return out


def make_dataset(
    out: Path, images: int = 8, videos: int = 8, text_only: int = 4, seed: int = 0
) -> dict[str, Path]:
    """Write media, ``pretrain.json``, ``finetune.json`` and ``tokenizer/`` under ``out``."""
    rng = random.Random(seed)
    pretrain, finetune = [], []
    for i in range(images):
        colour, shape = rng.choice(list(TINY_COLOURS)), rng.choice(TINY_SHAPES)
        name = f"images/{i:03d}.png"
        write_image(shape_image(colour, shape), out / name)
        pretrain.append({"id": f"img{i}", "image": name, "conversations": [
            {"from": "human", "value": "<image>"}, {"from": "gpt", "value": f"a {colour} {shape} on grey"}]})
        finetune.append({"id": f"img-qa{i}", "image": name, "conversations": [
            {"from": "human", "value": "<image>\nWhat colour is the shape?"},
            {"from": "gpt", "value": f"It is {colour}."},
            {"from": "human", "value": "What shape is it?"}, {"from": "gpt", "value": f"It is a {shape}."}]})
    for i in range(videos):
        colour, direction = rng.choice(list(TINY_COLOURS)), rng.choice(("left", "right"))
        name = f"videos/{i:03d}.mp4"
        write_video(moving_square(colour, direction), out / name)
        pretrain.append({"id": f"vid{i}", "video": name, "conversations": [
            {"from": "human", "value": "<video>"},
            {"from": "gpt", "value": f"a {colour} square moves {direction}"}]})
        finetune.append({"id": f"vid-qa{i}", "video": name, "conversations": [
            {"from": "human", "value": "<video>\nWhere does the square move?"},
            {"from": "gpt", "value": f"It moves {direction}."}]})
    for i in range(text_only):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        finetune.append({"id": f"txt{i}", "conversations": [
            {"from": "human", "value": f"What is {a} plus {b}?"},
            {"from": "gpt", "value": f"It is {a + b}."}]})
    out.mkdir(parents=True, exist_ok=True)
    paths = {"pretrain": out / "pretrain.json", "finetune": out / "finetune.json"}
    paths["pretrain"].write_text(json.dumps(pretrain, indent=1), encoding="utf-8")
    paths["finetune"].write_text(json.dumps(finetune, indent=1), encoding="utf-8")
    texts = [VICUNA_SYSTEM, "USER: ASSISTANT:"] + [str(i) for i in range(20)]
    texts += [t["value"] for s in pretrain + finetune for t in s["conversations"]]
    paths["tokenizer"] = build_tokenizer(texts, out / "tokenizer")
    return paths


def main() -> None:
    """CLI: ``python -m mmbind.synth.tiny OUT_DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("out", type=Path)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--text-only", type=int, default=4)
    args = parser.parse_args()
    paths = make_dataset(args.out, args.images, args.videos, args.text_only)
    print(json.dumps({k: str(v) for k, v in paths.items()}))


if __name__ == "__main__":
    main()
