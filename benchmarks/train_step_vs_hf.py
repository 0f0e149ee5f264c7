"""train_step_vs_hf.py

Stage-2 training step (projector + LLM train, towers frozen; forward, backward, clipping, AdamW) of mmbind
against transformers' ``VideoLlavaForConditionalGeneration`` on the same architecture and batch: CLIP
towers (4 layers, hidden 256, patch 14, 112 px), Llama (4 layers, hidden 512, 8 heads, MLP 1376, vocab
32064), a joint batch of 2 videos (8 frames) + 2 images with 64 text tokens each (32 supervised).

Each variant runs in its own process (fresh peak-memory figures): ``hf``; ``mmbind`` (packed batch, the
default way to train mixed batches); ``mmbind_padded`` (same padding as transformers). bf16 autocast on a
GPU, fp32 on a CPU, SDPA everywhere. Where mmbind legitimately saves work: no padding in the packed row,
logits only at supervised positions, frozen towers under no_grad.

    .venv/bin/python benchmarks/train_step_vs_hf.py [--steps 5] [--warmup 2]

The last line is one JSON object: per variant the median step time and peak memory, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

VISION = {"image_size": 112, "patch_size": 14, "hidden_size": 256, "intermediate_size": 1024,
          "num_hidden_layers": 4, "num_attention_heads": 4, "hidden_act": "quick_gelu"}
TEXT = {"vocab_size": 32064, "hidden_size": 512, "num_hidden_layers": 4, "num_attention_heads": 8,
        "intermediate_size": 1376, "max_position_embeddings": 4096}
FRAMES, TEXT_TOKENS, SUPERVISED = 8, 64, 32
IMAGE_ID, VIDEO_ID = 32000, 32001
PATCHES = (VISION["image_size"] // VISION["patch_size"]) ** 2
ROWS = ["video", "video", "image", "image"]


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _batch_parts(seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    texts = [torch.randint(3, 32000, (TEXT_TOKENS - 1,), generator=gen) for _ in ROWS]
    images = torch.randn(2, 3, 112, 112, generator=gen)
    videos = torch.randn(2, FRAMES, 3, 112, 112, generator=gen)
    return texts, images, videos


def _labels(ids: torch.Tensor) -> torch.Tensor:
    labels = torch.full_like(ids, -100)
    labels[-SUPERVISED:] = ids[-SUPERVISED:]
    return labels


def hf_step() -> tuple:
    from transformers import CLIPVisionConfig, LlamaConfig, VideoLlavaConfig, VideoLlavaForConditionalGeneration

    device = _device()
    config = VideoLlavaConfig(
        vision_config=CLIPVisionConfig(**VISION), text_config=LlamaConfig(**TEXT, pad_token_id=0),
        image_token_index=IMAGE_ID, video_token_index=VIDEO_ID, vision_feature_layer=-2,
        vision_feature_select_strategy="default", image_seq_length=PATCHES, video_seq_length=(PATCHES + 1) * FRAMES,
    )
    torch.manual_seed(0)
    model = VideoLlavaForConditionalGeneration._from_config(config, attn_implementation="sdpa").to(device).train()
    model.model.image_tower.requires_grad_(False)
    model.model.video_tower.requires_grad_(False)
    texts, images, videos = _batch_parts()
    rows = []
    for kind, text in zip(ROWS, texts):
        media = [VIDEO_ID] * ((PATCHES + 1) * FRAMES) if kind == "video" else [IMAGE_ID] * PATCHES
        rows.append(torch.cat([torch.tensor([1] + media), text]))
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for i, r in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)], labels[i, :len(r)] = r, 1, _labels(r)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=2e-5, fused=device.type == "cuda" or None)
    inputs = {"input_ids": ids.to(device), "attention_mask": mask.to(device), "labels": labels.to(device),
              "pixel_values_images": images.to(device), "pixel_values_videos": videos.to(device)}

    def step() -> float:
        with _autocast(device):
            loss = model(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss)

    return step, int(mask.sum()), ids.numel()


def mmbind_step(packed: bool) -> tuple:
    import mmbind
    from mmbind.data import Collator, Example, MediaItem
    from mmbind.recipe.training_schema import StageSpec
    from mmbind.train.distributed import DistInfo
    from mmbind.train.setup import prepare_model

    device = _device()
    clip = {"config": VISION, "select_layer": -2}
    recipe = mmbind.recipe_from_dict({"name": "bench", "model": {
        "seed": 0, "placeholder_ids": {"image": IMAGE_ID, "video": VIDEO_ID},
        "encoders": {"image": {"plugin": "clip_vision", "options": clip},
                     "video": {"plugin": "clip_vision", "options": clip}},
        "projector": {"plugin": "mlp2x_gelu", "shared": True},
        "llm": {"plugin": "hf_causal", "options": {"config": {"model_type": "llama", **TEXT, "pad_token_id": 0}}},
    }})
    model = mmbind.build_model(recipe)
    stage = StageSpec(train=["projector", "llm"], lr=2e-5, global_batch=4, per_device_batch=4, packing=packed)
    prepared = prepare_model(model, stage, DistInfo(device=device), total_steps=1000, cache=None)
    texts, images, videos = _batch_parts()
    examples, image_i, video_i = [], 0, 0
    for kind, text in zip(ROWS, texts):
        ids = torch.cat([torch.tensor([1, VIDEO_ID if kind == "video" else IMAGE_ID]), text])
        pixels = videos[video_i] if kind == "video" else images[image_i]
        video_i, image_i = video_i + (kind == "video"), image_i + (kind == "image")
        tokens = (PATCHES + 1) * FRAMES if kind == "video" else PATCHES
        examples.append(Example(kind, ids, _labels(ids), [MediaItem(kind, pixels=pixels)], len(ids) - 1 + tokens))
    batch = Collator(pad_id=0, packing=packed)(examples).to(device)
    n = batch.supervised_tokens

    def step() -> float:
        with _autocast(device):
            loss = prepared.module(batch) / n
        loss.backward()
        torch.nn.utils.clip_grad_norm_(prepared.params, 1.0)
        prepared.optimizer.step()
        prepared.optimizer.zero_grad(set_to_none=True)
        return float(loss)

    real = sum(batch.lengths)
    return step, real, real if packed else len(batch.lengths) * max(batch.lengths)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def run_variant(name: str, steps: int, warmup: int) -> dict:
    """Time one variant in this process."""
    device = _device()
    step, real_tokens, computed_tokens = hf_step() if name == "hf" else mmbind_step(packed=name == "mmbind")
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"step_s": statistics.median(times), "peak_bytes": peak, "loss": loss, "tokens_real": real_tokens,
            "tokens_computed": computed_tokens, "device": str(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--variant", choices=["hf", "mmbind", "mmbind_padded"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.steps, args.warmup)))
        return
    results = {}
    for variant in ("hf", "mmbind", "mmbind_padded"):
        cmd = [sys.executable, __file__, "--variant", variant, "--steps", str(args.steps), "--warmup", str(args.warmup)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        results[variant] = json.loads(out)
        print(f"{variant}: {results[variant]['step_s'] * 1000:.1f} ms/step, peak {results[variant]['peak_bytes'] / 2**20:.0f} MiB",
              file=sys.stderr)
    hf = results["hf"]["step_s"]
    summary = {
        "benchmark": "train_step_vs_hf", "device": results["hf"]["device"], "threads": torch.get_num_threads(),
        "variants": results,
        "ratio_mmbind_vs_hf": results["mmbind"]["step_s"] / hf,
        "ratio_mmbind_padded_vs_hf": results["mmbind_padded"]["step_s"] / hf,
        "target_ratio": 0.8,
    }
    summary["meets_target"] = summary["ratio_mmbind_vs_hf"] <= 0.8
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
