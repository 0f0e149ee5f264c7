"""chunked_frames.py

Peak memory and time of ``languagebind_video`` encoding one long video, unchunked against ``chunk_frames``:
a small-but-not-tiny tower (hidden 256, MLP 1024, 4 layers, 4 heads, 112 px, patch 14: 65 tokens a frame,
temporal embedding of 8 interpolated to T; ``select_layer: -1``, so all 4 layers run, eager attention,
fp32) encodes one random video of 8, 32 and 64 frames under ``torch.inference_mode``, each setting alone in
a fresh subprocess.

Memory on a CPU: growth of the process's peak RSS during the first encode call (``VmHWM`` reset through
``/proc/self/clear_refs`` just before it, minus ``VmRSS`` then: model, input and imports excluded; the
first call, because the allocator keeps memory freed by a previous call). On a GPU: ``max_memory_allocated``
during the call minus what was allocated before it. Time: the median of further calls (``--repeats``).

    .venv/bin/python benchmarks/chunked_frames.py [--frames 8 32 64] [--chunk 8] [--repeats 1]

The last line is one JSON object: per setting the peak bytes and seconds, and per frame count the ratio of
chunked to unchunked peak memory.
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

TOWER = {"hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 4, "num_attention_heads": 4,
         "image_size": 112, "patch_size": 14, "num_frames": 8}


def measure(frames: int, chunk: int | None, repeats: int) -> dict:
    """One setting, alone in this process: peak memory of the first encode call, then the median time."""
    import torch

    from mmbind.interfaces import BuildContext
    from mmbind_plugins.encoders.languagebind import video as lb_video

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    options = lb_video.LanguageBindVideoOptions(
        preset="tiny", config=TOWER, select_layer=-1, chunk_frames=chunk
    )
    encoder = lb_video.build(options, BuildContext(modality="video", temporal=True)).eval().to(dev)
    video = torch.randn(1, frames, 3, 112, 112, generator=torch.Generator().manual_seed(1)).to(dev)
    with torch.inference_mode():
        if dev.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            before = torch.cuda.memory_allocated()
            out = encoder(video)
            torch.cuda.synchronize()
            peak = {"peak_bytes": torch.cuda.max_memory_allocated() - before,
                    "peak_kind": "cuda max allocated minus allocated before the call"}
        else:
            reset = reset_peak_rss()
            before = process_memory("VmRSS:")
            start = time.perf_counter()
            out = encoder(video)
            first = time.perf_counter() - start
            kind = "peak RSS growth in the first call" + ("" if reset else " (peak not reset: upper bound)")
            peak = {"peak_bytes": process_memory("VmHWM:") - before, "first_call_s": first, "peak_kind": kind}
        tokens = tuple(out.shape)
        checksum = float(out.double().abs().mean())
        del out
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            encoder(video)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return {"frames": frames, "chunk_frames": chunk, "device": str(dev), "threads": torch.get_num_threads(),
            "tokens": tokens, "output_mean_abs": checksum, "seconds": statistics.median(times), **peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[2])
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--chunk", type=int, default=8, help="chunk_frames of the chunked runs")
    parser.add_argument("--repeats", type=int, default=1, help="timed calls after the measured one")
    parser.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)  # FRAMES CHUNK (0: none)
    args = parser.parse_args()
    if args.one:
        frames, chunk = args.one
        print(json.dumps(measure(frames, chunk or None, args.repeats)))
        return
    results = []
    for frames in args.frames:
        for chunk in (0, args.chunk):
            cmd = [sys.executable, __file__, "--one", str(frames), str(chunk), "--repeats", str(args.repeats)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            result = json.loads(out.strip().splitlines()[-1])
            results.append(result)
            print(f"T={frames:3d} chunk_frames={result['chunk_frames']}: peak "
                  f"{result['peak_bytes'] / 2**20:7.1f} MiB, {result['seconds'] * 1000:7.1f} ms",
                  file=sys.stderr)
    by_key = {(r["frames"], r["chunk_frames"]): r for r in results}
    ratios = {str(t): by_key[t, args.chunk]["peak_bytes"] / max(by_key[t, None]["peak_bytes"], 1)
              for t in args.frames}
    same = {str(t): abs(by_key[t, args.chunk]["output_mean_abs"] - by_key[t, None]["output_mean_abs"]) < 1e-5
            for t in args.frames}
    print(json.dumps({
        "benchmark": "chunked_frames", "tower": TOWER, "select_layer": -1, "chunk_frames": args.chunk,
        "results": results, "peak_ratio_chunked_vs_unchunked": ratios, "same_output_checksum": same,
    }))


if __name__ == "__main__":
    main()
