"""mmbind.eval

Evaluation on the synthetic benchmark's held-out sets: open-question accuracy by type (normalised exact
match) and POPE accuracy / precision / recall / F1 / yes-ratio per negative-sampling split, for images and
videos, with the batched greedy generation of `mmbind.inference`.

    job = prepare_eval("runs/demo", None, EvalSettings())  # every set of the run's dataset
    results = job.run()                                   # set name -> result, written to RUN/eval/<set>.json
"""

from mmbind.eval.job import EvalJob, prepare_eval
from mmbind.eval.metrics import binary_scores, open_metrics, pope_metrics
from mmbind.eval.normalize import normalize_answer, pope_answer
from mmbind.eval.runner import EvalSettings, evaluate, run_set
from mmbind.eval.sets import find_data_dir, load_set, select_sets, usable_sets
from mmbind.interfaces.benchmark import EvalItem, EvalSet

__all__ = [
    "EvalItem", "EvalJob", "EvalSet", "EvalSettings", "binary_scores", "evaluate", "find_data_dir",
    "load_set", "normalize_answer", "open_metrics", "pope_answer", "pope_metrics", "prepare_eval", "run_set",
    "select_sets", "usable_sets",
]
