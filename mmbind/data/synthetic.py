"""synthetic.py

A tiny synthetic Video-LLaVA-style dataset for demos, tests and benchmarks: coloured-shape PNG images and
mp4 videos of a moving square, stage-1 caption files (``plain``), stage-2 multi-turn instruction files
(``vicuna_v1``, images, videos and text-only mixed) and a small tokenizer trained on all of the text.

    python -m mmbind.data.synthetic data/tiny            # then: mmbind train tiny/train
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from mmbind.data.templates import VICUNA_SYSTEM
from mmbind.data.toy_tokenizer import build_tokenizer

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (40, 60, 220), "yellow": (230, 210, 40)}
SHAPES = ("square", "circle")


def write_image(path: Path, colour: str, shape: str, size: int = 40) -> None:
    """A ``shape`` of ``colour`` on a grey background."""
    image = Image.new("RGB", (size, size), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    box = (size // 4, size // 4, 3 * size // 4, 3 * size // 4)
    (draw.rectangle if shape == "square" else draw.ellipse)(box, fill=COLOURS[colour])
    image.save(path)


def write_video(path: Path, colour: str, direction: str, frames: int = 12, size: int = 32) -> None:
    """An mp4 of a ``colour`` square moving ``direction`` (left or right)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for t in range(frames):
            pixels = np.full((size, size, 3), 128, dtype=np.uint8)
            x = int((t / max(frames - 1, 1)) * (size - 8))
            x = x if direction == "right" else size - 8 - x
            pixels[12:20, x:x + 8] = COLOURS[colour]
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_dataset(out: Path, images: int = 8, videos: int = 8, text_only: int = 4, seed: int = 0) -> dict[str, Path]:
    """Write media, ``pretrain.json``, ``finetune.json`` and ``tokenizer/`` under ``out``."""
    rng = random.Random(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    pretrain, finetune = [], []
    for i in range(images):
        colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
        name = f"images/{i:03d}.png"
        write_image(out / name, colour, shape)
        pretrain.append({"id": f"img{i}", "image": name, "conversations": [
            {"from": "human", "value": "<image>"}, {"from": "gpt", "value": f"a {colour} {shape} on grey"}]})
        finetune.append({"id": f"img-qa{i}", "image": name, "conversations": [
            {"from": "human", "value": "<image>\nWhat colour is the shape?"}, {"from": "gpt", "value": f"It is {colour}."},
            {"from": "human", "value": "What shape is it?"}, {"from": "gpt", "value": f"It is a {shape}."}]})
    for i in range(videos):
        colour, direction = rng.choice(list(COLOURS)), rng.choice(("left", "right"))
        name = f"videos/{i:03d}.mp4"
        write_video(out / name, colour, direction)
        pretrain.append({"id": f"vid{i}", "video": name, "conversations": [
            {"from": "human", "value": "<video>"}, {"from": "gpt", "value": f"a {colour} square moves {direction}"}]})
        finetune.append({"id": f"vid-qa{i}", "video": name, "conversations": [
            {"from": "human", "value": "<video>\nWhere does the square move?"},
            {"from": "gpt", "value": f"It moves {direction}."}]})
    for i in range(text_only):
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        finetune.append({"id": f"txt{i}", "conversations": [
            {"from": "human", "value": f"What is {a} plus {b}?"}, {"from": "gpt", "value": f"It is {a + b}."}]})
    paths = {"pretrain": out / "pretrain.json", "finetune": out / "finetune.json"}
    paths["pretrain"].write_text(json.dumps(pretrain, indent=1), encoding="utf-8")
    paths["finetune"].write_text(json.dumps(finetune, indent=1), encoding="utf-8")
    texts = [VICUNA_SYSTEM, "USER: ASSISTANT:"] + [str(i) for i in range(20)]
    texts += [t["value"] for s in pretrain + finetune for t in s["conversations"]]
    paths["tokenizer"] = build_tokenizer(texts, out / "tokenizer")
    return paths


def main() -> None:
    """CLI: ``python -m mmbind.data.synthetic OUT_DIR``."""
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
