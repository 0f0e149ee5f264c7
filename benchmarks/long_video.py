"""long_video.py

Stage-2 training step (projector + LLM trained, the video tower frozen) on long videos: step time and peak
memory at 8, 32 and 64 frames per video with ``mlp2x_gelu`` (every frame's tokens reach the LLM) against
``spatial_pool`` (stride 2, CLS dropped: a 4 x 4 patch grid becomes 2 x 2), at tiny shapes on the CPU: a
LanguageBind video tower (2 layers, hidden 64, 56 px, patch 14, ``chunk_frames: 8``), a Llama of 2 layers,
hidden 256. A batch holds 2 videos, each with 48 text tokens (24 supervised). 32 frames pooled give 32 x 4 =
128 visual tokens per video, about as many as 8 unpooled frames (8 x 17 = 136): the check is that their peak
memory stays within 1.25x of 8 frames unpooled. Each setting runs alone in a fresh process (glibc told to
serve allocations of 64 KiB and more by mmap: see MALLOC_ENV); peak memory is the RSS growth over the
measured steps (the kernel's peak mark reset first), the encoder's share of the step time is timed
separately (the frozen tower under ``no_grad``).

    .venv/bin/python benchmarks/long_video.py [--steps 3]

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent / "common"))
from memory import process_memory, reset_peak_rss  # noqa: E402

FRAMES = (8, 32, 64)
PROJECTORS = {"mlp2x_gelu": {}, "spatial_pool": {"stride": 2, "keep_prefix": False}}
TOWER = {"image_size": 56, "patch_size": 14, "hidden_size": 64, "intermediate_size": 128,
         "num_hidden_layers": 2, "num_attention_heads": 2, "num_frames": 8}
LLM = {"model_type": "llama", "vocab_size": 512, "hidden_size": 256, "intermediate_size": 512,
       "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
       "max_position_embeddings": 8192}
TEXT, SUPERVISED, VIDEOS = 48, 24, 2


def measure(frames: int, projector: str, steps: int) -> dict:
    """One setting, alone in this process: median step time, peak RSS growth, the encoder's time."""
    import torch

    import mmbind

    torch.manual_seed(0)
    recipe = mmbind.recipe_from_dict({"name": "long-video-bench", "model": {
        "seed": 0,
        "encoders": {"video": {"plugin": "languagebind_video", "options": {
            "preset": "tiny", "config": TOWER, "select_layer": -2, "chunk_frames": 8}}},
        "projector": {"plugin": projector, "options": PROJECTORS[projector]},
        "llm": {"plugin": "hf_causal", "options": {"config": LLM}},
        "placeholder_ids": {"video": 511},
    }})
    model = mmbind.build_model(recipe).train()
    model.encoders.requires_grad_(False)
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=1e-4)
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 500, (VIDEOS, TEXT), generator=generator)
    ids[:, 4] = 511
    labels = ids.clone()
    labels[:, : TEXT - SUPERVISED] = -100
    videos = torch.randn(VIDEOS, frames, 3, 56, 56, generator=generator)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        out = model(ids, torch.ones_like(ids), labels=labels, media={"video": videos})
        out.loss.backward()
        optimizer.step()
        return float(out.loss)

    step()  # warm-up: optimizer state allocated
    reset = reset_peak_rss()
    before = process_memory("VmRSS:")
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = process_memory("VmHWM:") - before
    encoder_times = []
    with torch.no_grad():
        for _ in range(steps):
            start = time.perf_counter()
            model.encoders["video"](videos)
            encoder_times.append(time.perf_counter() - start)
    return {"frames": frames, "projector": projector, "visual_tokens": model.item_tokens("video", frames),
            "step_s": statistics.median(times), "encoder_s": statistics.median(encoder_times),
            "peak_bytes": peak,
            "peak_kind": "RSS growth over the steps" + ("" if reset else " (upper bound)")}


# glibc serves every allocation of 64 KiB or more with its own mmap and returns it on free, so the RSS growth
# follows the live tensors instead of what the allocator's arenas happen to keep (without this the peak of
# one setting varied 2x between runs)
MALLOC_ENV = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # FRAMES PROJECTOR
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(int(args.one[0]), args.one[1], args.steps)))
        return
    results = {}
    for projector in PROJECTORS:
        for frames in FRAMES:
            cmd = [sys.executable, __file__, "--one", str(frames), projector, "--steps", str(args.steps)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=MALLOC_ENV).stdout
            result = json.loads(out.strip().splitlines()[-1])
            results[f"{projector}@{frames}"] = result
            print(f"{projector:12s} {frames:3d} frames: {result['visual_tokens']:5d} visual tokens, step "
                  f"{result['step_s']:.3f} s (encoder {result['encoder_s']:.3f} s), peak "
                  f"{result['peak_bytes'] / 2**20:.1f} MiB", file=sys.stderr)
    base, pooled = results["mlp2x_gelu@8"], results["spatial_pool@32"]
    ratio = pooled["peak_bytes"] / max(base["peak_bytes"], 1)
    print(json.dumps({
        "benchmark": "long_video", "tower": TOWER, "llm": LLM, "videos_per_batch": VIDEOS, "results": results,
        "peak_ratio_pool32_vs_mlp8": ratio, "meets_memory_target": ratio <= 1.25,
        "step_ratio_pool32_vs_mlp8": pooled["step_s"] / base["step_s"],
        "encoder_share": {k: r["encoder_s"] / r["step_s"] for k, r in results.items()},
    }))


if __name__ == "__main__":
    main()
