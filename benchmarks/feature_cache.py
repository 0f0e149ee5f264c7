"""feature_cache.py

Stage-1 (projector-only) epoch time with the frozen-feature cache against without it, mp4 decoding
included: the same recipe (the issue's benchmark towers: CLIP, 4 layers, hidden 256, 112 px, 8 frames;
Llama 4 layers, hidden 512) trains two epochs on synthetic captions of videos (Valley-like clips) and
images, once with ``data.feature_cache.enabled`` and once without. Each run's second epoch is timed (both
warm); with the cache it reads bf16 features instead of decoding and encoding. Also reports the first,
cache-filling epoch, the cache size and peak RSS.

    .venv/bin/python benchmarks/feature_cache.py [--videos 12] [--images 12] [--frames 240]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent / "common"))
from memory import process_memory  # noqa: E402

import mmbind  # noqa: E402
from mmbind.data.toy_tokenizer import build_tokenizer  # noqa: E402
from mmbind.synth.media_io import write_image, write_video  # noqa: E402
from mmbind.synth.tiny import TINY_COLOURS, moving_square, shape_image  # noqa: E402
from mmbind.train import FeatureCache, train  # noqa: E402

VISION = {"image_size": 112, "patch_size": 14, "hidden_size": 256, "intermediate_size": 1024,
          "num_hidden_layers": 4, "num_attention_heads": 4}
TEXT = {"model_type": "llama", "vocab_size": 32064, "hidden_size": 512, "num_hidden_layers": 4,
        "num_attention_heads": 8, "intermediate_size": 1376, "max_position_embeddings": 4096}


def make_data(root: Path, videos: int, images: int, frames: int) -> Path:
    """Clips of ``frames`` frames at 224 px, 320 px images, and their captions."""
    rng = random.Random(0)
    samples = []
    (root / "media").mkdir(parents=True)
    for i in range(videos):
        colour, direction = rng.choice(list(TINY_COLOURS)), rng.choice(("left", "right"))
        write_video(moving_square(colour, direction, frames=frames, size=224), root / "media" / f"{i}.mp4")
        samples.append({"id": f"v{i}", "video": f"media/{i}.mp4", "conversations": [
            {"from": "human", "value": "<video>"},
            {"from": "gpt", "value": f"a {colour} square moves {direction}"}]})
    for i in range(images):
        colour, shape = rng.choice(list(TINY_COLOURS)), rng.choice(("square", "circle"))
        write_image(shape_image(colour, shape, size=320), root / "media" / f"{i}.png")
        samples.append({"id": f"i{i}", "image": f"media/{i}.png", "conversations": [
            {"from": "human", "value": "<image>"}, {"from": "gpt", "value": f"a {colour} {shape} on grey"}]})
    (root / "pretrain.json").write_text(json.dumps(samples), encoding="utf-8")
    build_tokenizer([t["value"] for s in samples for t in s["conversations"]], root / "tokenizer")
    return root


def recipe(data: Path, cache: Path | None) -> mmbind.Recipe:
    clip = {"config": VISION, "select_layer": -2}
    return mmbind.recipe_from_dict({
        "name": "cache-bench",
        "model": {"seed": 0, "encoders": {"image": {"plugin": "clip_vision", "options": clip},
                                          "video": {"plugin": "clip_vision", "options": clip}},
                  "projector": {"plugin": "mlp2x_gelu"},
                  "llm": {"plugin": "hf_causal",
                          "options": {"config": TEXT, "tokenizer": str(data / "tokenizer")}}},
        "data": {"video_frames": 8,
                 "feature_cache": {"enabled": cache is not None, "dir": str(cache or "unused")},
                 "datasets": {"pretrain": {"template": "plain",
                                           "files": [{"path": str(data / "pretrain.json")}]}}},
        "stages": {"pretrain": {"train": ["projector"], "epochs": 2, "global_batch": 8, "per_device_batch": 8,
                                "max_length": 1024}},
    })


def timed_run(data: Path, run: Path, cache: Path | None) -> dict:
    """Train two epochs; returns the wall time of each epoch."""
    marks: list[tuple[int, float]] = []
    start = time.perf_counter()
    summary = train(recipe(data, cache), run, progress=False,
                    callbacks=[lambda info: marks.append((info.step, time.perf_counter()))])
    per_epoch = summary["stages"]["pretrain"]["total_steps"] // 2
    first_end = marks[per_epoch - 1][1]
    return {"epoch1_s": first_end - start, "epoch2_s": marks[-1][1] - first_end, "steps_per_epoch": per_epoch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--frames", type=int, default=240,
                        help="frames per synthetic clip (decoded each epoch)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = make_data(root / "data", args.videos, args.images, args.frames)
        plain = timed_run(data, root / "plain", None)
        cached = timed_run(data, root / "cached", root / "cache")
        cache = FeatureCache(root / "cache")
        result = {
            "benchmark": "feature_cache", "videos": args.videos, "images": args.images,
            "frames_per_clip": args.frames,
            "without_cache": plain, "with_cache": cached,
            "speedup_epoch": plain["epoch2_s"] / cached["epoch2_s"],
            "cache_fill_overhead": cached["epoch1_s"] / plain["epoch1_s"],
            "cache_entries": cache.entries(), "cache_bytes": cache.size_bytes(),
            "peak_rss_bytes": process_memory(), "target_speedup": 3.0,
        }
    result["meets_target"] = result["speedup_epoch"] >= 3.0
    print(f"epoch without cache {plain['epoch2_s']:.2f} s, with cache {cached['epoch2_s']:.2f} s",
          file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
