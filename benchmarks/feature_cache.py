"""feature_cache.py

Stage-1 (projector-only) epoch time with the frozen-feature cache against without it, mp4 decoding
included: the same recipe (the issue's benchmark towers: CLIP, 4 layers, hidden 256, 112 px; Llama 4
layers, hidden 512) trains two epochs on synthetic captions of videos (Valley-like clips) and images, once
with ``data.feature_cache.enabled`` and once without. Each run's second epoch is timed (both warm); with
the cache it reads bf16 features instead of decoding and encoding. Settings (``--sample-frames``): 8 frames
per clip with mlp2x_gelu (Video-LLaVA's) on videos and images, and the many-frames settings 32 and 64 frames
per clip on as many samples, all videos, with ``spatial_pool`` at stride 8 (each frame's 8 x 8 grid pooled
to one LLM token, as long-video models compress to a token or two per frame): the LLM sequence stays short
and decoding and encoding dominate the uncached epoch. Per setting: the speed-up, the first
(cache-filling) epoch, the cache size, and the share of the uncached epoch that decoding and encoding the
clips take (timed on their own).

    .venv/bin/python benchmarks/feature_cache.py [--videos 12] [--images 12] [--frames 240]
                                                 [--sample-frames 8,32,64]

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


def projector(frames: int) -> dict:
    """mlp2x_gelu at Video-LLaVA's 8 frames; spatial_pool stride 8 (a token per frame) for many frames."""
    if frames <= 8:
        return {"plugin": "mlp2x_gelu"}
    return {"plugin": "spatial_pool", "options": {"stride": 8, "keep_prefix": False}}


def recipe(data: Path, cache: Path | None, frames: int = 8) -> mmbind.Recipe:
    clip = {"config": VISION, "select_layer": -2}
    return mmbind.recipe_from_dict({
        "name": "cache-bench",
        "model": {"seed": 0, "encoders": {"image": {"plugin": "clip_vision", "options": clip},
                                          "video": {"plugin": "clip_vision", "options": clip}},
                  "projector": projector(frames),
                  "llm": {"plugin": "hf_causal",
                          "options": {"config": TEXT, "tokenizer": str(data / "tokenizer")}}},
        "data": {"video_frames": frames,
                 "feature_cache": {"enabled": cache is not None, "dir": str(cache or "unused")},
                 "datasets": {"pretrain": {"template": "plain",
                                           "files": [{"path": str(data / "pretrain.json")}]}}},
        "stages": {"pretrain": {"train": ["projector"], "epochs": 2, "global_batch": 8, "per_device_batch": 8,
                                "max_length": 1024}},
    })


def timed_run(data: Path, run: Path, cache: Path | None, frames: int = 8) -> dict:
    """Train two epochs; returns the wall time of each epoch."""
    marks: list[tuple[int, float]] = []
    start = time.perf_counter()
    summary = train(recipe(data, cache, frames), run, progress=False,
                    callbacks=[lambda info: marks.append((info.step, time.perf_counter()))])
    per_epoch = summary["stages"]["pretrain"]["total_steps"] // 2
    first_end = marks[per_epoch - 1][1]
    return {"epoch1_s": first_end - start, "epoch2_s": marks[-1][1] - first_end, "steps_per_epoch": per_epoch}


def media_share(data: Path, frames: int) -> dict:
    """Seconds to decode (and preprocess) every clip of the dataset, and to encode them, on their own."""
    import torch

    from mmbind.media import read_frames

    model = mmbind.build_model(recipe(data, None, frames)).eval()
    encoder = model.encoders["video"]
    transform = encoder.media_transform()
    clips = sorted((data / "media").glob("*.mp4"))
    start = time.perf_counter()
    pixels = [transform(read_frames(clip, frames)) for clip in clips]
    decode_s = time.perf_counter() - start
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(pixels), 8):
            encoder(torch.stack(pixels[i:i + 8]))
    return {"decode_s": decode_s, "encode_s": time.perf_counter() - start}


def setting(root: Path, data: Path, frames: int) -> dict:
    """Both runs and the media share at ``frames`` frames per clip."""
    plain = timed_run(data, root / f"plain{frames}", None, frames)
    cached = timed_run(data, root / f"cached{frames}", root / f"cache{frames}", frames)
    share = media_share(data, frames)
    cache = FeatureCache(root / f"cache{frames}")
    speedup = plain["epoch2_s"] / cached["epoch2_s"]
    print(f"{frames} frames: epoch without cache {plain['epoch2_s']:.2f} s, with cache "
          f"{cached['epoch2_s']:.2f} s ({speedup:.2f}x); decode {share['decode_s']:.2f} s, encode "
          f"{share['encode_s']:.2f} s", file=sys.stderr)
    return {"frames": frames, "projector": projector(frames)["plugin"], "without_cache": plain,
            "with_cache": cached, "speedup_epoch": speedup,
            "cache_fill_overhead": cached["epoch1_s"] / plain["epoch1_s"],
            "decode_share": share["decode_s"] / plain["epoch2_s"],
            "encode_share": share["encode_s"] / plain["epoch2_s"],
            "cache_entries": cache.entries(), "cache_bytes": cache.size_bytes()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--frames", type=int, default=240,
                        help="frames per synthetic clip (decoded each epoch)")
    parser.add_argument("--sample-frames", default="8,32,64", help="frames sampled per clip, per setting")
    args = parser.parse_args()
    counts = [int(n) for n in args.sample_frames.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = make_data(root / "data", args.videos, args.images, args.frames)
        videos_only = make_data(root / "videos", args.videos + args.images, 0, args.frames)
        settings = [setting(root, videos_only if frames >= 32 else data, frames) for frames in counts]
    many = [s for s in settings if s["frames"] >= 32]
    result = {
        "benchmark": "feature_cache", "videos": args.videos, "images": args.images,
        "frames_per_clip": args.frames, "settings": settings,
        "speedup_epoch": {str(s["frames"]): round(s["speedup_epoch"], 2) for s in settings},
        "peak_rss_bytes": process_memory(), "target_speedup_many_frames": 3.0,
        "meets_target": bool(many) and all(s["speedup_epoch"] >= 3.0 for s in many),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
