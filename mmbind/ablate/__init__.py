"""mmbind.ablate

Ablation sweeps (``mmbind ablate SWEEP.yaml``): recipe variants x seeds, each trained in
``OUTPUT/<variant>/seed<K>/`` and evaluated, finished runs skipped and interrupted ones resumed, then a
table of mean ± std over seeds (terminal, Markdown, CSV) and a grouped bar chart like the Video-LLaVA
paper's Figures 4 and 5.

    report = run_sweep(resolve_recipe_path("ablations/joint_training"))  # from mmbind.recipe.paths
    print(report.files["markdown"].read_text())
"""

from mmbind.ablate.execute import SweepExecutor, SweepOutcome
from mmbind.ablate.plan import RunPlan, SweepPlan, check_data, plan_sweep, seed_overrides
from mmbind.ablate.results import Cell, ResultTable, collect, default_metrics, metric_value
from mmbind.ablate.runner import EvalOutcome, LocalRunner, Runner
from mmbind.ablate.schema import MetricSpec, Sweep, load_sweep
from mmbind.ablate.sweep import SweepReport, load_plan, run_sweep, tabulate

__all__ = [
    "Cell", "EvalOutcome", "LocalRunner", "MetricSpec", "ResultTable", "RunPlan", "Runner", "Sweep",
    "SweepExecutor", "SweepOutcome", "SweepPlan", "SweepReport", "check_data", "collect", "default_metrics",
    "load_plan", "load_sweep", "metric_value", "plan_sweep", "run_sweep", "seed_overrides", "tabulate",
]
