"""builtin_kinds.py

mmbind's own stage kinds, contributed through the ``mmbind_stage_kinds`` hook exactly as a third party's
(listed as ``mmbind`` entry points in pyproject.toml): ``lm`` (next-token training, `lm.py`), ``dpo``
(preference optimisation, `dpo_stage.py`), ``align`` and ``mae`` (encoder pre-training, `align.py`,
`mae.py`). Importing this module is cheap (the objectives are imported when a stage is built), so loading a
recipe does not import torch for it.
"""

from __future__ import annotations

from typing import Any

from mmbind.hookspecs import hookimpl
from mmbind.recipe.stage_checks import check_encoder_stage, settle_encoder_stage
from mmbind.recipe.stage_options import AlignOptions, DpoOptions, MaeStageOptions
from mmbind.registry.entries import StageKindEntry


def _lm(ctx: Any) -> Any:
    from mmbind.train.lm import LmObjective

    return LmObjective(ctx)


def _dpo(ctx: Any) -> Any:
    from mmbind.train.dpo_stage import DpoObjective

    return DpoObjective(ctx)


def _align(ctx: Any) -> Any:
    from mmbind.train.align import AlignObjective

    return AlignObjective(ctx)


def _mae(ctx: Any) -> Any:
    from mmbind.train.mae import MaeObjective

    return MaeObjective(ctx)


def settle_dpo_stage(stage: Any, options: DpoOptions) -> None:
    """A dpo stage's own settings: no packing, no length grouping (a pair's answers share one batch); with
    LoRA only the LLM's adapters train (the reference is the model with its adapters disabled)."""
    if stage.packing:
        raise ValueError("kind dpo: packing is not supported (the two answers of a pair share a batch)")
    if stage.group_by_modality_length:
        raise ValueError("kind dpo: group_by_modality_length is not supported")
    if stage.lora is not None and stage.train != ["llm"]:
        raise ValueError("kind dpo: with lora the reference is the model with its adapters disabled, so only "
                         "the LLM's adapters may train (train: [llm])")


@hookimpl
def mmbind_stage_kinds() -> list[StageKindEntry]:
    return [
        StageKindEntry("lm", _lm, description="next-token training of the projector / LLM on conversations"),
        StageKindEntry("dpo", _dpo, DpoOptions, settle_dpo_stage,
                       description="direct preference optimisation on preference pairs (TRL's DPO)"),
        StageKindEntry("align", _align, AlignOptions, settle_encoder_stage, check_encoder_stage,
                       description="contrastive alignment of one encoder to a text encoder (LanguageBind)"),
        StageKindEntry("mae", _mae, MaeStageOptions, settle_encoder_stage, check_encoder_stage,
                       description="masked-autoencoder pre-training of an image encoder"),
    ]
