"""mmbind.eval

Evaluation through one pipeline (`job`: predict, score, keep the results): the synthetic benchmark's
held-out sets (`prepare_eval`: open-question accuracy by type, POPE accuracy / precision / recall / F1 /
yes-ratio per negative-sampling split, for every modality) and published benchmarks read from their local
files (`prepare_benchmark`: scores with 95% intervals, open answers judged), every benchmark a plugin's
(`catalog`). Answers come from `mmbind.inference`'s batched greedy generation.

    job = prepare_eval("runs/demo", None, EvalSettings())  # every set of the run's dataset
    results = job.run()                                   # set name -> result, written to RUN/eval/<set>.json
"""

from mmbind.eval.job import EvalJob, EvalSettings, run_set
from mmbind.eval.metrics import binary_scores, open_metrics, pope_metrics
from mmbind.eval.normalize import normalize_answer, pope_answer
from mmbind.eval.prepare import prepare_benchmark, prepare_eval
from mmbind.eval.sets import find_data_dir, load_set, select_sets, usable_sets
from mmbind.interfaces.benchmark import EvalItem, EvalSet

__all__ = [
    "EvalItem", "EvalJob", "EvalSet", "EvalSettings", "binary_scores", "find_data_dir", "load_set",
    "normalize_answer", "open_metrics", "pope_answer", "pope_metrics", "prepare_benchmark", "prepare_eval",
    "run_set", "select_sets", "usable_sets",
]
