"""target.py

What `mmbind eval`, `chat`, `serve`, `infer` and the lmms-eval adapter point at: a run directory
(``RUN/recipe.yaml`` + ``RUN/stages/<name>/``, `mmbind.run_folder`; the last stage in recipe order that has
finished, or ``--stage``) or an mmbind checkpoint directory (``mmbind_config.json``; when it is
``RUN/stages/<name>`` its run's recipe is found too). The run's recipe gives how videos were sampled in
training (and its datasets, where `mmbind.eval` finds the evaluation sets).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmbind.errors import CheckpointError
from mmbind.model.config import CONFIG_NAME
from mmbind.recipe.media_options import TEMPORAL_FIELDS
from mmbind.run_folder import RECIPE_FILE, STAGES, read_run_recipe, stage_dir

DEFAULT_FRAMES = 8  # Video-LLaVA's frame count, when nothing else says


@dataclass(frozen=True)
class Target:
    """A resolved model to evaluate or chat with."""

    model_dir: Path  # the mmbind checkpoint directory
    run_dir: Path | None  # the run it belongs to, if any
    stage: str | None  # the stage whose output it is, if any
    recipe: dict[str, Any] | None  # the run's resolved recipe, if any

    @property
    def results_dir(self) -> Path:
        """Where evaluation results go: RUN/eval for a run's final stage, RUN/eval/<stage> for an earlier
        one (so it never overwrites the final model's results), CHECKPOINT/eval for a lone checkpoint."""
        if self.run_dir is None:
            return self.model_dir / "eval"
        stages = list((self.recipe or {}).get("stages") or {})
        final = not stages or self.stage == stages[-1]
        return self.run_dir / "eval" if final else self.run_dir / "eval" / str(self.stage)


def resolve_target(path: str | Path, stage: str | None = None) -> Target:
    """The model behind ``path`` (a run directory or a checkpoint directory)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such run or checkpoint directory")
    if (path / CONFIG_NAME).is_file():
        if stage is not None:
            raise CheckpointError(f"{path}: --stage applies to run directories, this is a checkpoint")
        run = path.parent.parent
        inside_run = path.parent.name == STAGES and (run / RECIPE_FILE).is_file()
        return Target(path, run if inside_run else None, path.name if inside_run else None,
                      read_run_recipe(run) if inside_run else None)
    if not (path / RECIPE_FILE).is_file():
        raise CheckpointError(
            f"{path}: not an mmbind run ({RECIPE_FILE} is missing) or checkpoint ({CONFIG_NAME} is missing)"
        )
    recipe = read_run_recipe(path)
    stages = list(recipe.get("stages") or {})
    finished = [s for s in stages if (stage_dir(path, s) / CONFIG_NAME).is_file()]
    if stage is not None:
        if stage not in stages:
            known = ", ".join(stages)
            raise CheckpointError(f"{path}: no stage {stage!r} in the run's recipe (stages: {known})")
        if stage not in finished:
            raise CheckpointError(f"{path}: stage {stage!r} has not finished (no {stage_dir(path, stage)})")
        return Target(stage_dir(path, stage), path, stage, recipe)
    if not finished:
        raise CheckpointError(
            f"{path}: no stage of this run has finished yet (nothing under {path / STAGES})"
        )
    return Target(stage_dir(path, finished[-1]), path, finished[-1], recipe)


def video_sampling(target: Target, model: Any, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """How videos are sampled: ``given`` (command-line options), else as the run was trained (its
    ``data.media.video`` sampling by rate, else its frame count, `video_frames`)."""
    if given:
        return dict(given)
    video = (((target.recipe or {}).get("data") or {}).get("media") or {}).get("video") or {}
    if video.get("fps"):
        return {k: video[k] for k in TEMPORAL_FIELDS if k != "frames" and video.get(k) is not None}
    return {"frames": int(video.get("frames") or video_frames(target, model))}


def video_frames(target: Target, model: Any) -> int:
    """Frames per video: the run's ``data.video_frames``, else the count the model's temporal encoder is
    built for (`Encoder.default_frames`: a lone checkpoint), else `DEFAULT_FRAMES`."""
    data = (target.recipe or {}).get("data") or {}
    if data.get("video_frames"):
        return int(data["video_frames"])
    declared = [e.default_frames for e in model.encoders.values() if e.temporal and e.default_frames]
    return int(declared[0]) if declared else DEFAULT_FRAMES
