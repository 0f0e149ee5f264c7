"""dpo_step.py

A ``kind: dpo`` training step against an ``lm`` step over the same tokens, side by side in one run: the same
model (a Video-LLaVA-shaped mmbind model, towers frozen, projector + LLM trained, AdamW), the same N pairs
(one video or image each, a prompt and two answers); the ``lm`` step trains on both answers of every pair as
2N conversations (each with its media), the dpo steps on the N pairs:

- ``lm``: `TrainForward` on the 2N conversations (the media of each pair encoded twice);
- ``dpo_precomputed``: `DpoForward` with ``reference: precomputed`` (a table lookup);
- ``dpo_copy``: `DpoForward` with a frozen copy of the starting model as the reference.

Targets: ``dpo_precomputed / lm`` at most 1.1, ``dpo_precomputed / dpo_copy`` at most 0.8, and one encoder
call per pair (the items the encoders receive in one forward, per pair: the policy's and a frozen copy's).
The three are built first and timed in turns, one step each per round (a change in load affects them
alike); medians over the rounds after warm-up.

    .venv/bin/python benchmarks/dpo_step.py            # GPU shape where there is one, else the CPU shape
    .venv/bin/python benchmarks/dpo_step.py --smoke    # tiny shapes on a CPU (what CI runs)

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent / "common"))
from step_builders import IMAGE_ID, VIDEO_ID, Shape, autocast, device, reference_model  # noqa: E402

VISION = {"image_size": 56, "patch_size": 14, "hidden_size": 128, "intermediate_size": 256,
          "num_hidden_layers": 4, "num_attention_heads": 4, "hidden_act": "quick_gelu"}
CPU = Shape(vision=VISION, text={"vocab_size": 4096, "hidden_size": 256, "num_hidden_layers": 4,
                                 "num_attention_heads": 4, "intermediate_size": 688,
                                 "max_position_embeddings": 2048},
            rows=("video", "video", "image", "image"), frames=4, text_tokens=48, supervised=16)
GPU = Shape(vision={**VISION, "image_size": 224, "hidden_size": 1024, "intermediate_size": 4096,
                    "num_hidden_layers": 24, "num_attention_heads": 16},
            text={"vocab_size": 32064, "hidden_size": 2048, "num_hidden_layers": 16,
                  "num_attention_heads": 16, "intermediate_size": 5632, "max_position_embeddings": 4096},
            rows=("video",) * 4 + ("image",) * 4, frames=8, text_tokens=120, supervised=40)
VARIANTS = ("lm", "dpo_precomputed", "dpo_copy")
SMOKE = Shape(vision={**VISION, "image_size": 28, "hidden_size": 32, "intermediate_size": 64,
                      "num_hidden_layers": 2},
              text={"vocab_size": 512, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                    "intermediate_size": 128, "max_position_embeddings": 1024},
              rows=("video", "image"), frames=2, text_tokens=24, supervised=8)


def _pairs(shape: Shape, seed: int = 0) -> list:
    """N pairs: [BOS, media placeholder, prompt..., answer...]; the chosen and rejected answers differ."""
    from mmbind.data import Example, MediaItem
    from mmbind.data.preferences import PreferenceExample

    g = torch.Generator().manual_seed(seed)
    size, frames = shape.vision["image_size"], shape.frames
    vocab = shape.text["vocab_size"] - 8
    prompt_len = shape.text_tokens - shape.supervised
    out = []
    for i, kind in enumerate(shape.rows):
        pixels = torch.randn((frames, 3, size, size) if kind == "video" else (3, size, size), generator=g)
        prompt = torch.randint(3, vocab, (prompt_len,), generator=g)
        head = torch.cat([torch.tensor([1, VIDEO_ID if kind == "video" else IMAGE_ID]), prompt])
        examples = []
        for answer in (torch.randint(3, vocab, (shape.supervised,), generator=g) for _ in range(2)):
            ids = torch.cat([head, answer])
            labels = torch.full_like(ids, -100)
            labels[-shape.supervised:] = answer
            media = [MediaItem(kind, pixels=pixels)] if not examples else []
            length = len(ids) - 1 + shape.media_tokens(kind)
            examples.append(Example(f"{kind}{i}", ids, labels, media, length))
        out.append(PreferenceExample(f"{kind}{i}", i, *examples))
    return out


def _model(shape: Shape) -> torch.nn.Module:
    import mmbind
    from mmbind.convert.hf.config_mapping import port_recipe

    with torch.device("meta"):
        reference = reference_model(shape)
    torch.manual_seed(0)
    return mmbind.build_model(mmbind.recipe_from_dict(port_recipe(reference.config, None, name="bench")))


def build(variant: str, shape: Shape, bf16: bool) -> tuple[Callable[[], None], Callable[[], float]]:
    """(one optimizer step, encoder items per pair of one forward) of a variant."""
    from mmbind.data import Collator
    from mmbind.data.preferences import PreferenceCollator
    from mmbind.recipe.stage_options import DpoOptions
    from mmbind.recipe.training_schema import StageSpec
    from mmbind.train.distributed import DistInfo
    from mmbind.train.dpo import DpoForward, FrozenCopy, Precomputed, frozen_copy
    from mmbind.train.setup import prepare_model

    dev = device()
    model = _model(shape)
    pairs = _pairs(shape)
    stage = StageSpec(train=["projector", "llm"], lr=1e-5, warmup_ratio=0.0, scheduler="constant_with_warmup",
                      global_batch=len(pairs), per_device_batch=len(pairs),
                      precision="bf16" if bf16 else "auto", gradient_checkpointing=bf16)
    if variant == "lm":
        examples = [p.chosen for p in pairs] + [_with_media(p.rejected, p.chosen) for p in pairs]
        batch = Collator(0)(examples).to(dev)
        loss, count = None, batch.supervised_tokens
    else:
        batch = PreferenceCollator(0)(pairs).to(dev)
        count = len(pairs)
        if variant == "dpo_precomputed":
            reference = Precomputed()
            reference.table = -torch.rand(len(pairs), 2, dtype=torch.float64) * 50

            def loss(m: torch.nn.Module) -> torch.nn.Module:
                return DpoForward(m, None, DpoOptions(reference="precomputed"), reference)
        else:
            def loss(m: torch.nn.Module) -> torch.nn.Module:
                return DpoForward(m, None, DpoOptions(), FrozenCopy(frozen_copy(m)))
    prepared = prepare_model(model, stage, DistInfo(device=dev), 1000, None, loss)

    def step() -> None:
        with autocast(dev, bf16):
            out = prepared.module(batch)
        total = out[0] if isinstance(out, tuple) else out
        (total / count).backward()
        torch.nn.utils.clip_grad_norm_(prepared.params, 1.0)
        prepared.optimizer.step()
        prepared.optimizer.zero_grad(set_to_none=True)

    def items_per_pair() -> float:
        """Items the encoders (the policy's and a frozen copy's) receive in one forward, per pair."""
        seen: list[int] = []
        reference = getattr(prepared.module, "reference", None)
        copy = getattr(reference, "model", None) if isinstance(reference, FrozenCopy) else None
        encoders = [*model.encoders.values(), *(copy.encoders.values() if copy is not None else ())]
        hooks = [e.register_forward_hook(lambda _m, args, _o: seen.append(len(args[0]))) for e in encoders]
        with torch.no_grad(), autocast(dev, bf16):
            prepared.module(batch)
        for hook in hooks:
            hook.remove()
        return sum(seen) / len(pairs)

    return step, items_per_pair


def _with_media(example, donor):
    """``example`` carrying ``donor``'s media items (the lm side: each conversation with its media)."""
    import dataclasses

    return dataclasses.replace(example, media=donor.media)


def measure(shape: Shape, steps: int, warmup: int, bf16: bool) -> dict[str, dict]:
    """Every variant built first, then timed in turns (one step of each per round), so a change in the
    machine's load during the run affects them alike; medians over the rounds."""
    dev = device()
    built = {v: build(v, shape, bf16) for v in VARIANTS}
    per_pair = {v: items() for v, (_, items) in built.items()}
    for _ in range(warmup):
        for step, _ in built.values():
            step()
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(steps):
        for variant, (step, _) in built.items():
            if dev.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times[variant].append(time.perf_counter() - start)
    out = {v: {"step_s": statistics.median(times[v]), "encoder_items_per_pair": per_pair[v]}
           for v in VARIANTS}
    del built
    gc.collect()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--smoke", action="store_true", help="tiny shapes on a CPU")
    parser.add_argument("--steps", type=int, default=7, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (CPU runs only)")
    args = parser.parse_args()
    gpu = torch.cuda.is_available() and not args.smoke
    shape = SMOKE if args.smoke else GPU if gpu else CPU
    steps, warmup = (1, 1) if args.smoke else (args.steps, args.warmup)
    if not gpu:
        torch.set_num_threads(args.threads)  # one thread: steadier on a shared machine
    results = measure(shape, steps, warmup, bf16=gpu)
    for variant, result in results.items():
        print(f"{variant}: {result['step_s']:.3f} s/step, encoder items per pair "
              f"{result['encoder_items_per_pair']:.1f}", file=sys.stderr)
    summary = {
        "benchmark": "dpo_step", "smoke": args.smoke,
        "device": torch.cuda.get_device_name() if gpu else f"cpu ({torch.get_num_threads()} thread(s))",
        "pairs": len(shape.rows), "tokens_per_answer": shape.supervised, "prompt_tokens": shape.text_tokens
        - shape.supervised, "variants": results,
        "ratio_dpo_precomputed_vs_lm": results["dpo_precomputed"]["step_s"] / results["lm"]["step_s"],
        "ratio_precomputed_vs_copy": results["dpo_precomputed"]["step_s"] / results["dpo_copy"]["step_s"],
        "encoder_calls_per_pair": results["dpo_precomputed"]["encoder_items_per_pair"],
        "targets": {"ratio_dpo_precomputed_vs_lm": 1.1, "ratio_precomputed_vs_copy": 0.8,
                    "encoder_calls_per_pair": 1},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
