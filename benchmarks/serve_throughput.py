"""serve_throughput.py

Benchmark: `mmbind serve` on the tiny model, one server, one run: the same chat completion requests (image
questions, greedy, ``max_tokens`` new tokens each) sent one after another, then from 8 concurrent clients,
alternating in rounds over the same requests (so load from other processes hits both alike). Requests per
second for both, the speed-up (concurrent requests are generated together: continuous batching, requests
join and leave the batch between steps), and p50 / p95 latency. Checks that both passes returned the same
answers. Prints a table, then ONE JSON object as the last line.

    .venv/bin/python benchmarks/serve_throughput.py [--requests 192] [--clients 8] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from common.tiny_vlm import tiny_checkpoint  # noqa: E402

QUESTIONS = ("What colour is the square?", "How many objects are there?", "What shape is in the bottom left?",
             "Describe the image.")


@contextmanager
def served(model_dir: Path, data: Path, max_tokens: int, threads: int) -> Iterator[str]:
    """`mmbind serve` in its own process (as in use: clients elsewhere) on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(threads)}
    server = subprocess.Popen([sys.executable, "-m", "mmbind", "serve", str(model_dir), "--port", str(port),
                               "--media-root", str(data), "--max-tokens", str(max_tokens), "--frames", "4"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mmbind serve did not start: " + (server.stderr.read().decode()[-2000:]
                                                                      if server.stderr else ""))
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(30)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    parser.add_argument("--requests", type=int, default=192, help="192: a steady ratio (64 varied 3.0x-4.0x)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4, help="alternating sequential / concurrent rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steady on a shared CPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, data = tiny_checkpoint(Path(tmp))
        images = sorted((data / "eval" / "images").glob("*.png"))
        bodies = [{"messages": [{"role": "user", "content": [
            {"type": "text", "text": QUESTIONS[i % len(QUESTIONS)]},
            {"type": "image_url", "image_url": {"url": str(images[i % len(images)].relative_to(data))}}]}],
            "max_tokens": args.max_tokens, "temperature": 0} for i in range(args.requests)]
        with served(model_dir, data, args.max_tokens, args.threads) as url:
            local = __import__("threading").local()

            def send(body: dict) -> tuple[float, str]:
                if not hasattr(local, "client"):
                    local.client = httpx.Client(timeout=300)
                start = time.perf_counter()
                response = local.client.post(url + "/v1/chat/completions", json=body)
                response.raise_for_status()
                return time.perf_counter() - start, response.json()["choices"][0]["message"]["content"]

            send(bodies[0])  # warm-up
            sequential: list[tuple[float, str]] = []
            concurrent: list[tuple[float, str]] = []
            seq_s = conc_s = 0.0
            step = -(-len(bodies) // args.rounds)
            with ThreadPoolExecutor(args.clients) as pool:
                for first in range(0, len(bodies), step):  # alternate, so a busy machine slows both alike
                    part = bodies[first:first + step]
                    start = time.perf_counter()
                    sequential += [send(b) for b in part]
                    seq_s += time.perf_counter() - start
                    start = time.perf_counter()
                    concurrent += list(pool.map(send, part))
                    conc_s += time.perf_counter() - start
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
    print(f"sequential {result['sequential_rps']} req/s, "
          f"{args.clients} clients {result['concurrent_rps']} req/s "
          f"-> {result['speedup']}x; latency p50/p95 sequential {result['sequential_latency_ms']}, "
          f"concurrent {result['concurrent_latency_ms']}; answers identical: {same}")
    print(json.dumps(result))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
