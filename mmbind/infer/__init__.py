"""mmbind.infer

Batch inference (`mmbind infer`): questions about images and videos from a JSON-lines file answered in
length-sorted batches, answers appended as they finish, already answered ids skipped on a rerun.

    rows, bad = read_rows(Path("questions.jsonl"))
    run_inference(Generator(model), rows, Path("answers.jsonl"), answered_ids(Path("answers.jsonl")))
"""

from mmbind.infer.rows import BadRow, InferRow, answered_ids, read_rows
from mmbind.infer.runner import InferResult, by_length, run_inference

__all__ = ["BadRow", "InferResult", "InferRow", "answered_ids", "by_length", "read_rows", "run_inference"]
