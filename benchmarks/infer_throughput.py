"""infer_throughput.py

Benchmark: `mmbind infer`'s batched inference (`run_inference`, length-sorted batches of 16) against
answering the same rows one at a time with ``model.generate`` (batch 1), on the tiny model: answers per
second for both and the speed-up; checks both give the same answers. Media are read (and cached) the same
way in both. Prints a line, then ONE JSON object as the last line.

    .venv/bin/python benchmarks/infer_throughput.py [--rows 96] [--batch-size 16] [--max-new-tokens 24]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common.tiny_vlm import tiny_checkpoint  # noqa: E402

import mmbind  # noqa: E402
from mmbind.infer import InferRow, run_inference  # noqa: E402
from mmbind.inference import Generator, Query  # noqa: E402

QUESTIONS = ("What colour is the square?", "How many objects are there?", "Which way does it move?",
             "Describe what you see in detail.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--rows", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steady on a shared CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, data = tiny_checkpoint(Path(tmp))
        model = mmbind.load_pretrained(model_dir).eval()
        generator = Generator(model, frames=4)
        media = [("image", p) for p in sorted((data / "eval" / "images").glob("*.png"))]
        media += [("video", p) for p in sorted((data / "eval" / "videos").glob("*.mp4"))]
        rows = [InferRow(f"r{i}", QUESTIONS[i % len(QUESTIONS)], *media[i % len(media)])
                for i in range(args.rows)]
        for modality, path in media:
            generator.pixels(modality, path)  # warm the media cache for both passes alike
        generator.answer([Query(rows[0].question, rows[0].modality, rows[0].media)], 2, batch_size=1)
        start = time.perf_counter()
        alone = {r.id: generator.answer([Query(r.question, r.modality, r.media)], args.max_new_tokens,
                                        batch_size=1)[0] for r in rows}
        alone_s = time.perf_counter() - start
        output = Path(tmp) / "answers.jsonl"
        start = time.perf_counter()
        run_inference(generator, rows, output, set(), args.batch_size, args.max_new_tokens)
        batched_s = time.perf_counter() - start
        batched = {r["id"]: r["answer"] for r in map(json.loads, output.read_text().splitlines())}
    same = alone == batched
    result = {"benchmark": "infer_throughput", "rows": args.rows, "batch_size": args.batch_size,
              "max_new_tokens": args.max_new_tokens, "one_at_a_time_per_s": round(args.rows / alone_s, 2),
              "infer_per_s": round(args.rows / batched_s, 2), "speedup": round(alone_s / batched_s, 2),
              "same_answers": same, "threads": torch.get_num_threads()}
    print(f"one at a time {result['one_at_a_time_per_s']}/s, mmbind infer (batch {args.batch_size}) "
          f"{result['infer_per_s']}/s -> {result['speedup']}x; answers identical: {same}")
    print(json.dumps(result))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
