"""gpu_train_step.py

The Video-LLaVA-7B-shaped stage-2 training step on one GPU, transformers and mmbind in one run: random
init, bf16 parameters with fused AdamW, gradient checkpointing, a batch of 4 videos x 2176 tokens (8 frames x
257 visual tokens + 120 text tokens, 60 supervised), SDPA; CLIP ViT-L/14 towers (frozen), Llama-2-7B shape
(32 layers, hidden 4096, MLP 11008, vocab 32064). Reports step time, tokens/s, MFU and peak memory.
Reference on one H200 (../shared/reference/gpu-anchor.md): transformers 1.06 s/step, 8,214 tokens/s,
MFU 36.9 %, 54.1 GiB.

MFU counts 6 N FLOPs per token for the LLM, 12 L d S attention FLOPs per token, 2 N per visual token for
the frozen tower, against ``--peak-tflops`` (989, dense bf16 H100/H200); recompute is not counted.

    .venv/bin/python benchmarks/gpu_train_step.py            # on a GPU
    .venv/bin/python benchmarks/gpu_train_step.py --smoke    # tiny shapes on a CPU (what CI runs)

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "common"))
from step_builders import Shape, device, hf_step, mmbind_step  # noqa: E402

SEVEN_B = Shape(
    vision={"image_size": 224, "patch_size": 14, "hidden_size": 1024, "intermediate_size": 4096,
            "num_hidden_layers": 24, "num_attention_heads": 16, "hidden_act": "quick_gelu"},
    text={"vocab_size": 32064, "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
          "intermediate_size": 11008, "max_position_embeddings": 4096},
    rows=("video",) * 4, frames=8, text_tokens=120, supervised=60,
)
SMOKE = Shape(
    vision={"image_size": 28, "patch_size": 14, "hidden_size": 32, "intermediate_size": 64,
            "num_hidden_layers": 2, "num_attention_heads": 4},
    text={"vocab_size": 32064, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 128, "max_position_embeddings": 1024},
    rows=("video", "video"), frames=8, text_tokens=24, supervised=8,
)


def model_flops(shape: Shape, seq: int) -> float:
    """FLOPs of one step as the anchor counts them (no recompute)."""
    t, v = shape.text, shape.vision
    d, layers = t["hidden_size"], t["num_hidden_layers"]
    n_llm = (2 * t["vocab_size"] * d + layers * (4 * d * d + 3 * d * t["intermediate_size"]))
    n_tower = v["num_hidden_layers"] * (4 * v["hidden_size"] ** 2
                                        + 2 * v["hidden_size"] * v["intermediate_size"])
    tokens = len(shape.rows) * seq
    visual = sum(shape.media_tokens(k) for k in shape.rows)
    return tokens * (6 * n_llm + 12 * layers * d * seq) + 2 * n_tower * visual


def measure(
    name: str, shape: Shape, steps: int, warmup: int, checkpointing: bool, peak_tflops: float
) -> dict:
    dev = device()
    bf16 = dev.type == "cuda"
    step = (hf_step(shape, bf16, checkpointing) if name == "hf"
            else mmbind_step(shape, packed=False, bf16_params=bf16, checkpointing=checkpointing))
    for _ in range(warmup):
        step.run()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step.run()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    seq = step.tokens_real // len(shape.rows)
    out = {
        "step_s": seconds, "tokens_per_s": step.tokens_real / seconds,
        "samples_per_s": len(shape.rows) / seconds,
        "mfu": model_flops(shape, seq) / seconds / (peak_tflops * 1e12),
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None,
    }
    del step
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--smoke", action="store_true", help="tiny shapes (runs on a CPU)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--no-checkpointing", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--variants", default="hf,mmbind")
    args = parser.parse_args()
    smoke = args.smoke or not torch.cuda.is_available()
    if not args.smoke and smoke:
        print("no GPU: running the CPU smoke shapes", file=sys.stderr)
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    shape = SMOKE if smoke else SEVEN_B
    steps, warmup = (1, 1) if smoke else (args.steps, args.warmup)
    results = {}
    for name in args.variants.split(","):
        results[name] = measure(name, shape, steps, warmup, not args.no_checkpointing, args.peak_tflops)
        print(f"{name}: {results[name]['step_s']:.3f} s/step, {results[name]['tokens_per_s']:,.0f} tokens/s, "
              f"MFU {results[name]['mfu']:.1%}", file=sys.stderr)
    summary = {"benchmark": "gpu_train_step", "smoke": smoke, "device": torch.cuda.get_device_name()
               if torch.cuda.is_available() else "cpu", "checkpointing": not args.no_checkpointing,
               "variants": results, "goal_mfu": 0.5}
    if "hf" in results and "mmbind" in results:
        summary["ratio_mmbind_vs_hf"] = results["mmbind"]["step_s"] / results["hf"]["step_s"]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
