"""job.py

`prepare_eval`: everything ``mmbind eval RUN`` sets up before generating — the model behind the run, the
dataset its recipe points at, the sets the model can answer (those needing a missing encoder skipped), the
frame count and the settings recorded with the results — as one `EvalJob` that ``mmbind eval`` and the
ablation runner both run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmbind.errors import MmbindError
from mmbind.eval.generation import Generator
from mmbind.eval.runner import EvalSettings, evaluate, prompt_count, usable_sets
from mmbind.eval.sets import EvalSet, select_sets
from mmbind.eval.target import Target, find_data_dir, resolve_target, video_sampling


@dataclass
class EvalJob:
    """A resolved evaluation, ready to run."""

    target: Target  # the model and the run it belongs to
    data_dir: Path  # the dataset holding the eval sets
    generator: Generator  # the loaded model, asking with the chosen template and frame count
    sets: list[EvalSet]  # the sets to run
    skipped: list[EvalSet]  # sets the model has no encoder for
    settings: EvalSettings  # batch size, tokens, limit, and what the results record

    def prompt_counts(self) -> dict[str, int]:
        """Distinct prompts each set will generate for (a progress bar's total)."""
        return {s.name: prompt_count(s, self.settings.limit) for s in self.sets}

    def run(self, on_batch: Callable[[str, int], None] | None = None) -> dict[str, dict[str, Any]]:
        """Evaluate every set and write its results; returns set name -> result."""
        return evaluate(self.target, self.generator, self.sets, self.settings, on_batch)


def prepare_eval(
    run: str | Path, names: Sequence[str] | None, settings: EvalSettings, *, data: str | Path | None = None,
    stage: str | None = None, template: str = "vicuna_v1", frames: int | dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
) -> EvalJob:
    """Resolve ``run`` (a run or checkpoint directory), its data and sets, and load the model once."""
    from mmbind.model import load_pretrained
    from mmbind.prompting import get_template

    target = resolve_target(run, stage)
    data_dir = find_data_dir(target, data)
    model = load_pretrained(target.model_dir)
    sets, skipped = usable_sets(select_sets(data_dir, names), list(model.encoders), bool(names))
    sampling = video_sampling(target, model, {"frames": frames} if isinstance(frames, int) else frames)
    generator = Generator(model, get_template(template), sampling, limits=limits)
    extra = {"data": str(data_dir), "template": template, "frames": generator.frames,
             "visual_tokens": visual_tokens(model, generator)}
    job_settings = EvalSettings(settings.batch_size, settings.max_new_tokens, settings.limit, extra)
    return EvalJob(target, data_dir, generator, sets, skipped, job_settings)


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
