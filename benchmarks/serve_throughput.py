"""serve_throughput.py

Benchmark: `mmbind serve` on the tiny model, one server, one run: the same chat completion requests
(image questions, greedy, ``max_tokens`` new tokens each) sent one after another, then from 8 concurrent
clients. Requests per second for both, the speed-up (concurrent requests are generated together in
batches), and p50 / p95 latency. Checks that both passes returned the same answers. Prints a table, then
ONE JSON object as the last line.

    .venv/bin/python benchmarks/serve_throughput.py [--requests 64] [--clients 8] [--max-tokens 24]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common.tiny_vlm import tiny_checkpoint  # noqa: E402

import mmbind  # noqa: E402
from mmbind.eval import default_template  # noqa: E402
from mmbind.serve import BackgroundServer, ServeSettings, create_app  # noqa: E402

QUESTIONS = ("What colour is the square?", "How many objects are there?", "What shape is in the bottom left?",
             "Describe the image.")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steady on a shared CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, data = tiny_checkpoint(Path(tmp))
        model = mmbind.load_pretrained(model_dir).eval()
        images = sorted((data / "eval" / "images").glob("*.png"))
        settings = ServeSettings(media_root=data, max_tokens=args.max_tokens, max_batch=16)
        app = create_app(model, settings, "tiny", default_template(model))
        bodies = [{"messages": [{"role": "user", "content": [
            {"type": "text", "text": QUESTIONS[i % len(QUESTIONS)]},
            {"type": "image_url", "image_url": {"url": str(images[i % len(images)].relative_to(data))}}]}],
            "max_tokens": args.max_tokens, "temperature": 0} for i in range(args.requests)]
        with BackgroundServer(app) as url:
            local = __import__("threading").local()

            def send(body: dict) -> tuple[float, str]:
                if not hasattr(local, "client"):
                    local.client = httpx.Client(timeout=300)
                start = time.perf_counter()
                response = local.client.post(url + "/v1/chat/completions", json=body)
                response.raise_for_status()
                return time.perf_counter() - start, response.json()["choices"][0]["message"]["content"]

            send(bodies[0])  # warm-up
            start = time.perf_counter()
            sequential = [send(b) for b in bodies]
            seq_s = time.perf_counter() - start
            start = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                concurrent = list(pool.map(send, bodies))
            conc_s = time.perf_counter() - start
            health = httpx.get(url + "/health").json()
    same = [a for _, a in sequential] == [a for _, a in concurrent]
    result = {
        "benchmark": "serve_throughput", "requests": args.requests, "clients": args.clients,
        "max_tokens": args.max_tokens,
        "sequential_rps": round(args.requests / seq_s, 2), "concurrent_rps": round(args.requests / conc_s, 2),
        "speedup": round(seq_s / conc_s, 2),
        "sequential_latency_ms": {"p50": round(1000 * percentile([t for t, _ in sequential], 0.5), 1),
                                  "p95": round(1000 * percentile([t for t, _ in sequential], 0.95), 1)},
        "concurrent_latency_ms": {"p50": round(1000 * percentile([t for t, _ in concurrent], 0.5), 1),
                                  "p95": round(1000 * percentile([t for t, _ in concurrent], 0.95), 1)},
                "largest_batch": health["largest_batch"], "same_answers": same,
        "threads": torch.get_num_threads(),
    }
    print(f"sequential {result['sequential_rps']} req/s, {args.clients} clients {result['concurrent_rps']} req/s "
          f"-> {result['speedup']}x; latency p50/p95 sequential {result['sequential_latency_ms']}, "
          f"concurrent {result['concurrent_latency_ms']}; answers identical: {same}")
    print(json.dumps(result))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
