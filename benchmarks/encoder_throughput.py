"""encoder_throughput.py

Encode throughput (items/s) of every first-party encoder on this machine's CPU, at tiny shapes and at the
real shapes of the paper (ViT-L/14 at 224 px; videos of 8 frames), random weights, fp32, no_grad.

    .venv/bin/python benchmarks/encoder_throughput.py [--real-items 2] [--tiny-items 64]

The last line is one JSON object: {"tiny": {name: items/s}, "real": {name: items/s}, ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from mmbind import default_registry  # noqa: E402
from mmbind.interfaces import BuildContext  # noqa: E402

# name -> (plugin, modality, tiny options, real options)
ENCODERS = {
    "clip_vision/image": ("clip_vision", "image",
                          {"config": {"image_size": 28, "patch_size": 14, "hidden_size": 32,
                                      "intermediate_size": 64, "num_hidden_layers": 2,
                                      "num_attention_heads": 4}},
                          {"config": {"image_size": 224, "patch_size": 14, "hidden_size": 1024,
                                      "intermediate_size": 4096, "num_hidden_layers": 24,
                                      "num_attention_heads": 16}}),
    "languagebind_image": ("languagebind_image", "image", {"preset": "tiny"}, {"preset": "vit_l_14"}),
    "languagebind_video": ("languagebind_video", "video", {"preset": "tiny", "num_frames": 8},
                           {"preset": "vit_l_14", "num_frames": 8}),
    "clip/image": ("clip", "image",
                   {"model": "ViT-L-14", "config": {"embed_dim": 32, "vision_cfg": {
                       "image_size": 28, "layers": 2, "width": 32, "head_width": 8, "patch_size": 14}}},
                   {"model": "ViT-L-14"}),
    "mae/image": ("mae", "image",
                  {"model": "vit_large_patch16_224.mae",
                   "config": {"img_size": 32, "embed_dim": 32, "depth": 2, "num_heads": 4}},
                  {"model": "vit_large_patch16_224.mae"}),
}


def measure(plugin: str, modality: str, options: dict, items: int, frames: int, repeats: int) -> float:
    """Best-of-``repeats`` items/s for one batch of ``items``."""
    entry = default_registry().get("encoder", plugin)
    context = BuildContext(modality=modality, temporal=modality == "video")
    encoder = entry.build(entry.options.model_validate(options), context).eval()
    shape = tuple(frames if d is None else d for d in encoder.item_shape)
    pixels = torch.randn(items, *shape)
    best = float("inf")
    with torch.inference_mode():
        encoder(pixels[:1])  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            encoder(pixels)
            best = min(best, time.perf_counter() - start)
    return items / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--tiny-items", type=int, default=64)
    parser.add_argument("--real-items", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    result: dict = {"device": "cpu", "threads": torch.get_num_threads(), "frames": 8, "tiny": {}, "real": {}}
    for name, (plugin, modality, tiny, real) in ENCODERS.items():
        result["tiny"][name] = round(measure(plugin, modality, tiny, args.tiny_items, 8, args.repeats), 2)
        result["real"][name] = round(measure(plugin, modality, real, args.real_items, 8, args.repeats), 3)
        print(f"{name:22s} tiny {result['tiny'][name]:>10.1f} items/s   "
              f"real {result['real'][name]:>8.3f} items/s",
              flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
