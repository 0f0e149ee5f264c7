"""`ContinuousBatch`: rows that join between steps and leave when done get the same greedy tokens as a
direct one-prompt ``model.generate``, with the ``hf_causal`` KV cache and with the generic recomputing
decoding every backend has by default."""

from __future__ import annotations

import pytest
import torch

from mmbind.inference import Query
from mmbind.inference.decode_loop import ContinuousBatch
from mmbind.interfaces import LLMBackend


def queries(micro) -> list[tuple[Query, int]]:
    images = sorted((micro / "eval" / "images").glob("*.png"))
    videos = sorted((micro / "eval" / "videos").glob("*.mp4"))
    return [(Query("What colour is the square?", "image", images[0]), 9),
            (Query("How many objects are there in this picture?", "video", videos[0]), 5),
            (Query("Hi", None, None), 12),
            (Query("What shape is it?", "image", images[1]), 3),
            (Query("Which way does it move, and how fast?", "video", videos[1]), 8),
            (Query("Describe it.", "image", images[2]), 6)]


def direct(generator, query: Query, tokens: int) -> list[int]:
    new = generator.model.generate(**generator.inputs([query]), max_new_tokens=tokens, do_sample=False)
    return new[0].tolist()


def continuous(generator, cases: list[tuple[Query, int]]) -> list[list[int]]:
    """Rows join two at a time, one step apart, and leave at their own length (no end-of-sequence)."""
    batch = ContinuousBatch(generator.model)
    out: list[list[int]] = [[] for _ in cases]
    active: list[int] = []
    waiting = list(range(len(cases)))
    while waiting or active:
        joining, waiting = waiting[:2], waiting[2:]
        if joining:
            batch.join(**generator.inputs([cases[i][0] for i in joining]))
            active += joining
        tokens = batch.next_tokens()
        for row, token in zip(active, tokens):
            out[row].append(token)
        keep = [i for i, row in enumerate(active) if len(out[row]) < cases[row][1]]
        active = [active[i] for i in keep]
        batch.advance(tokens, keep)
    return out


@pytest.mark.parametrize("decoding", ["kv_cache", "recompute"])
def test_rows_joining_and_leaving_match_generate(generator, micro, monkeypatch, decoding):
    cases = queries(micro)
    if decoding == "recompute":
        llm = generator.model.llm
        monkeypatch.setattr(llm, "start_decoding",
                            lambda embeds, mask: LLMBackend.start_decoding(llm, embeds, mask))
    want = [direct(generator, q, n) for q, n in cases]
    assert continuous(generator, cases) == want


def test_sampling_draws_like_generate(generator, micro):
    query = queries(micro)[0][0]
    inputs = generator.inputs([query])
    with torch.random.fork_rng():
        torch.manual_seed(3)
        want = generator.model.generate(**inputs, max_new_tokens=6, do_sample=True, temperature=0.7,
                                        top_p=0.9, top_k=0)[0].tolist()
    with torch.random.fork_rng():
        torch.manual_seed(3)
        batch = ContinuousBatch(generator.model, temperature=0.7, top_p=0.9)
        batch.join(**inputs)
        got: list[int] = []
        for _ in range(6):
            tokens = batch.next_tokens()
            got += tokens
            batch.advance(tokens, [0])
    assert got == want
