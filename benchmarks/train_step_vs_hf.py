"""train_step_vs_hf.py

Stage-2 training step (projector + LLM train, towers frozen; forward, backward, clipping, AdamW) of mmbind
against transformers' ``VideoLlavaForConditionalGeneration`` on the same architecture and batch: CLIP
towers (4 layers, hidden 256, patch 14, 112 px), Llama (4 layers, hidden 512, 8 heads, MLP 1376, vocab
32064), a joint batch of 2 videos (8 frames) + 2 images with 64 text tokens each (32 supervised).

Variants: ``hf``; ``mmbind`` (packed batch, the way to train mixed batches); ``mmbind_padded`` (same
padding as transformers). mmbind's model is converted from transformers' (same config, same weights) and
every side's inputs come from the same samples (same text ids, labels and pixels; transformers expands each
placeholder to its N tokens, mmbind keeps one per item). Before timing, one fp32 forward of each must give the
same mean loss over the supervised positions (within ``LOSS_TOL``), else the benchmark stops. Their steps are
interleaved in one process so machine load affects all alike; peak memory is measured for each variant alone
in a fresh process. bf16 autocast on a GPU, fp32 on a CPU, SDPA everywhere. Where mmbind legitimately saves
work: no padding in the packed row, logits only at supervised positions, frozen towers under no_grad.

    .venv/bin/python benchmarks/train_step_vs_hf.py [--steps 6] [--warmup 2]

The last line is one JSON object: per variant the median step time, peak memory and the fp32 loss of the
parity check, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent / "common"))
from memory import process_memory  # noqa: E402
from step_builders import Shape, Step, device, hf_step, mmbind_step  # noqa: E402

SHAPE = Shape(
    vision={"image_size": 112, "patch_size": 14, "hidden_size": 256, "intermediate_size": 1024,
            "num_hidden_layers": 4, "num_attention_heads": 4, "hidden_act": "quick_gelu"},
    text={"vocab_size": 32064, "hidden_size": 512, "num_hidden_layers": 4, "num_attention_heads": 8,
          "intermediate_size": 1376, "max_position_embeddings": 4096},
)
LOSS_TOL = 1e-4  # largest |mmbind - hf| of the fp32 parity losses
VARIANTS = ("hf", "mmbind", "mmbind_padded")


def build(name: str, same_weights: bool = True) -> Step:
    """One variant's training step (weight values do not change memory: ``same_weights=False`` skips the
    reference model there)."""
    if name == "hf":
        return hf_step(SHAPE)
    return mmbind_step(SHAPE, packed=name == "mmbind", same_weights=same_weights)


def parity(variants: dict[str, Step]) -> dict[str, float]:
    """Every variant's fp32 loss on the shared batch before any update; raises if one differs from hf's."""
    losses = {name: step.loss() for name, step in variants.items()}
    for name, loss in losses.items():
        if abs(loss - losses["hf"]) > LOSS_TOL:
            raise SystemExit(
                f"loss mismatch: {name} {loss:.6f} vs hf {losses['hf']:.6f} (tolerance {LOSS_TOL})"
            )
    return losses


def peak_memory(name: str) -> dict:
    """Peak memory of one variant over a warm-up and a timed step, alone in this process."""
    dev = device()
    import transformers  # noqa: F401

    import mmbind  # imports and plugin loading are not the model's memory

    mmbind.default_registry()

    baseline = process_memory("VmRSS:") if dev.type == "cpu" else 0
    step = build(name, same_weights=False)
    step.run()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    step.run()
    if dev.type == "cuda":
        return {"peak_bytes": torch.cuda.max_memory_allocated(), "peak_kind": "cuda max allocated"}
    return {"peak_bytes": process_memory("VmHWM:") - baseline,
            "peak_kind": "process RSS high water minus RSS after imports"}


def interleaved(steps: int, warmup: int) -> dict:
    """Median step time of every variant, their steps interleaved so machine load hits all alike."""
    dev = device()
    variants = {name: build(name) for name in VARIANTS}
    fp32_losses = parity(variants)
    times: dict[str, list[float]] = {name: [] for name in variants}
    losses: dict[str, float] = {}
    for round_ in range(warmup + steps):
        for name, step in variants.items():
            start = time.perf_counter()
            losses[name] = step.run()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: {"step_s": statistics.median(times[name]), "step_s_all": times[name],
                   "parity_loss_fp32": fp32_losses[name], "loss": losses[name],
                   "tokens_real": variants[name].tokens_real,
                   "tokens_computed": variants[name].tokens_computed}
            for name in variants}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--memory-of", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        print(json.dumps(peak_memory(args.memory_of)))
        return
    results = interleaved(args.steps, args.warmup)
    for variant in results:
        cmd = [sys.executable, __file__, "--memory-of", variant]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        results[variant].update(json.loads(out))
        print(f"{variant}: {results[variant]['step_s'] * 1000:.1f} ms/step, "
              f"peak {results[variant]['peak_bytes'] / 2**20:.0f} MiB", file=sys.stderr)
    hf = results["hf"]["step_s"]
    summary = {
        "benchmark": "train_step_vs_hf", "device": str(device()), "threads": torch.get_num_threads(),
        "variants": results,
        "parity_losses_fp32": {name: results[name]["parity_loss_fp32"] for name in results},
        "parity_tolerance": LOSS_TOL,
        "ratio_mmbind_vs_hf": results["mmbind"]["step_s"] / hf,
        "ratio_mmbind_padded_vs_hf": results["mmbind_padded"]["step_s"] / hf,
        "target_ratio": 0.8,
    }
    summary["meets_target"] = summary["ratio_mmbind_vs_hf"] <= 0.8
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
