"""eval_throughput.py

Benchmark: questions per second of ``mmbind eval --benchmark`` (`prepare_benchmark` + `EvalJob.run`:
batched greedy generation with left padding and the KV cache, predictions written incrementally, then
scored) against answering the same questions one at a time with transformers' ``generate`` (batch 1,
through the same model and prompts), on the tiny model and the micro dataset's images and videos, in one
run. Media are read (and cached) the same way in both; both must give the same answers. Prints a line,
then ONE JSON object as the last line.

    .venv/bin/python benchmarks/eval_throughput.py [--questions 96] [--batch-size 16] [--max-new-tokens 16]
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

from mmbind.eval.job import EvalSettings  # noqa: E402
from mmbind.eval.predict import read_predictions  # noqa: E402
from mmbind.eval.prepare import prepare_benchmark  # noqa: E402
from mmbind.inference import Query  # noqa: E402

QUESTIONS = ("What colour is the square?", "How many objects are there?", "Which way does it move?",
             "Describe what you see in detail.")


def question_file(data: Path, out: Path, n: int) -> Path:
    """A LLaVA-style question file over the dataset's eval images and videos."""
    media = sorted((data / "eval" / "images").glob("*.png"))
    media += sorted((data / "eval" / "videos").glob("*.mp4"))
    rows = [{"question_id": f"q{i}", "media": str(media[i % len(media)]), "answer": "red",
             "text": f"{QUESTIONS[i % len(QUESTIONS)]} ({i})"}  # every prompt distinct: nothing deduplicated
            for i in range(n)]
    out.write_text("\n".join(map(json.dumps, rows)) + "\n", encoding="utf-8")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--questions", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steady on a shared CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, data = tiny_checkpoint(Path(tmp))
        questions = question_file(data, Path(tmp) / "questions.jsonl", args.questions)
        settings = EvalSettings(args.batch_size, args.max_new_tokens, None)
        job = prepare_benchmark(model_dir, "llava_qa", questions, settings, frames=4,
                                output=Path(tmp) / "out", options={"kind": "open"})
        generator = job.generator
        for item in job.items:  # warm the media cache for both passes alike
            generator.pixels(item.modality, item.media)
        generator.answer([Query(job.items[0].question, job.items[0].modality, job.items[0].media)], 2, 1)
        start = time.perf_counter()
        alone = {i.id: generator.answer([Query(i.question, i.modality, i.media)], args.max_new_tokens,
                                        batch_size=1)[0] for i in job.items}
        alone_s = time.perf_counter() - start
        start = time.perf_counter()
        job.run()
        eval_s = time.perf_counter() - start
        batched = read_predictions(job.files.folder / "predictions.jsonl").answers
    same = alone == batched
    n = args.questions
    result = {"benchmark": "eval_throughput", "questions": n, "batch_size": args.batch_size,
              "max_new_tokens": args.max_new_tokens, "one_at_a_time_per_s": round(n / alone_s, 2),
              "mmbind_eval_per_s": round(n / eval_s, 2), "speedup": round(alone_s / eval_s, 2),
              "same_answers": same, "threads": torch.get_num_threads()}
    print(f"one at a time (transformers generate, batch 1) {result['one_at_a_time_per_s']}/s, mmbind eval "
          f"(batch {args.batch_size}) {result['mmbind_eval_per_s']}/s -> {result['speedup']}x; "
          f"answers identical: {same}")
    print(json.dumps(result))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
