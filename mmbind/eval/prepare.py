"""prepare.py

Setting an `EvalJob` up before anything is generated: the model behind a run or checkpoint
(`mmbind.inference.resolve_target`), loaded once behind a `Generator` with the chosen template and the
run's video sampling; then

- `prepare_eval` (``mmbind eval RUN``, the ablation runner): the dataset the run's recipe points at, the
  sets the model can answer (those needing a missing encoder skipped), results as `SetFiles` recording the
  settings (template, frames, tokens per item);
- `prepare_benchmark` (``mmbind eval TARGET --benchmark NAME``): the benchmark read first (a bad file fails
  before the model loads), results in a `BenchmarkFolder`, open answers judged when a judge is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mmbind.errors import InputError, MmbindError
from mmbind.eval.catalog import load_benchmark
from mmbind.eval.job import EvalJob, EvalSettings
from mmbind.eval.judge.client import Judge, JudgeConfig
from mmbind.eval.result_files import BenchmarkFolder, SetFiles
from mmbind.eval.sets import find_data_dir, select_sets, usable_sets
from mmbind.inference.generation import Generator, default_template
from mmbind.inference.target import Target, resolve_target, video_sampling


def load_generator(target: Target, template: str | None, frames: int | dict[str, Any] | None,
                   limits: Mapping[str, Any] | None = None) -> Generator:
    """The model behind ``target`` asking with ``template`` (None: the model's default) and sampling
    ``frames`` (None: as its run did)."""
    from mmbind.model import load_pretrained
    from mmbind.prompting import get_template

    model = load_pretrained(target.model_dir).eval()
    chosen = get_template(template) if template else default_template(model)
    sampling = video_sampling(target, model, {"frames": frames} if isinstance(frames, int) else frames)
    return Generator(model, chosen, sampling, limits=limits)


def prepare_eval(
    run: str | Path, names: Sequence[str] | None, settings: EvalSettings, *, data: str | Path | None = None,
    stage: str | None = None, template: str = "vicuna_v1", frames: int | dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
) -> EvalJob:
    """Resolve ``run`` (a run or checkpoint directory), its data and sets, and load the model once."""
    target = resolve_target(run, stage)
    data_dir = find_data_dir(target, data)
    generator = load_generator(target, template, frames, limits)
    model = generator.model
    sets, skipped = usable_sets(select_sets(data_dir, names), list(model.encoders), bool(names))
    extra = {"data": str(data_dir), "template": template, "frames": generator.frames,
             "visual_tokens": visual_tokens(model, generator)}
    job_settings = EvalSettings(settings.batch_size, settings.max_new_tokens, settings.limit, extra)
    return EvalJob(target, data_dir, generator, sets, job_settings, SetFiles(target, job_settings), skipped)


def prepare_benchmark(
    target_path: str | Path, name: str, data: str | Path, settings: EvalSettings, *,
    stage: str | None = None, template: str | None = None, frames: int | dict[str, Any] | None = None,
    output: str | Path | None = None, judge: JudgeConfig | None = None, restart: bool = False,
    options: Mapping[str, str] | None = None, limits: Mapping[str, Any] | None = None,
) -> EvalJob:
    """Read the benchmark first (a bad file fails before the model loads), then load the model once."""
    target = resolve_target(target_path, stage)
    eval_set = load_benchmark(name, Path(data), dict(options or {}))
    generator = load_generator(target, template, frames, limits)
    encoders = list(generator.model.encoders)
    missing = sorted({i.modality for i in eval_set.items if i.modality} - set(encoders))
    if missing:
        raise InputError(f"benchmark {name!r} needs a {missing[0]} encoder; this model has: "
                         f"{', '.join(encoders) or 'none'}")
    out = Path(output) if output else target.results_dir / eval_set.name
    files = BenchmarkFolder(target, out, Path(data), restart)
    return EvalJob(target, Path(data), generator, [eval_set], settings, files,
                   judge=Judge(judge) if judge and eval_set.kind == "qa" else None)


def visual_tokens(model: Any, generator: Generator) -> dict[str, int]:
    """LLM tokens one item of each modality becomes under this evaluation's sampling (sampling by rate:
    the most), recorded with the results (``mmbind ablate`` plots accuracy against it)."""
    out = {}
    for modality, encoder in model.encoders.items():
        frames = None
        if encoder.temporal:
            try:
                frames = generator.reader(modality).frames
            except MmbindError:  # no loader reads this key: nothing to record
                continue
        out[modality] = int(model.item_tokens(modality, frames))
    return out
