"""mmbind.eval

Evaluation on the synthetic benchmark's held-out sets: open-question accuracy by type (normalised exact
match) and POPE accuracy / precision / recall / F1 / yes-ratio per negative-sampling split, for images and
videos, with batched greedy generation (`Generator`, also used by chat).

    target = resolve_target("runs/demo")
    generator = Generator(mmbind.load_pretrained(target.model_dir), frames=video_frames(target, model))
    results = evaluate(target, generator, select_sets(find_data_dir(target), None), EvalSettings())
"""

from mmbind.eval.generation import Generator, Query, default_template
from mmbind.eval.job import EvalJob, prepare_eval
from mmbind.eval.metrics import binary_scores, open_metrics, pope_metrics
from mmbind.eval.normalize import normalize_answer, pope_answer
from mmbind.eval.runner import EvalSettings, evaluate, run_set, usable_sets
from mmbind.eval.sets import EvalItem, EvalSet, load_set, select_sets
from mmbind.eval.target import Target, find_data_dir, resolve_target, video_frames, video_sampling

__all__ = [
    "EvalItem", "EvalJob", "EvalSet", "EvalSettings", "Generator", "Query", "Target", "binary_scores",
    "default_template", "evaluate", "find_data_dir", "load_set", "normalize_answer", "open_metrics",
    "pope_answer", "pope_metrics", "prepare_eval", "resolve_target", "run_set", "select_sets", "usable_sets",
    "video_frames",
    "video_sampling",
]
