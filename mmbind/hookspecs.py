"""hookspecs.py

The hook specifications of mmbind: the whole contract between the host and its plugins.

A plugin is a plain module listed under the ``mmbind`` entry-point group (as pytest's ``pytest11``):

    [project.entry-points.mmbind]
    my_encoder = "my_package.mmbind_plugin"

and implements any of the hooks below with ``@mmbind.hookimpl``. Name the entry point after the part it
contributes (``patch_mean = ...`` for the encoder ``patch_mean``), and list a module that contributes several
parts once per part name: a recipe naming a part then imports just that module. Other names still work, at
the cost of importing every plugin to find them. Each hook returns a list of contributions
(`EncoderEntry`, `ProjectorEntry`, `LLMEntry`, `BenchmarkEntry`, `MediaLoaderEntry`, `StageKindEntry` from
`mmbind.registry`): a unique name, a pydantic ``Options`` model that validates the recipe's ``options`` for
that part, and a small ``build`` function taking a `BuildContext` (a media loader: its options alone). A
plugin never subclasses host internals; it implements the public interfaces of `mmbind.interfaces`
(`Encoder`, `Projector`, `LLMBackend`, `MediaLoader`), which declare everything the host and the trainer
use of a part: an encoder says whether its items have a time axis (``temporal``, from
``context.temporal``, which its modality's media loader decides, or its own option) and how its tokens are
arranged (``token_layout``, for compressing projectors), an LLM backend names its repeated blocks (FSDP
units and gradient-checkpointing units) and applies / merges LoRA; optional capabilities (masked encoding
for MAE, initialisation from an aligned encoder) are methods with defaults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from mmbind.registry.entries import (
        BenchmarkEntry,
        EncoderEntry,
        LLMEntry,
        MediaLoaderEntry,
        ProjectorEntry,
        StageKindEntry,
    )

PROJECT_NAME = "mmbind"
ENTRY_POINT_GROUP = "mmbind"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def mmbind_encoders() -> list[EncoderEntry]:
    """Contribute visual (or other media) encoders.

    Returns a list of `EncoderEntry`. Each entry names the modalities it accepts (the keys under
    ``model.encoders`` in a recipe, e.g. ``image``, ``video``, ``depth``) and builds an `Encoder`.
    """


@hookspec
def mmbind_projectors() -> list[ProjectorEntry]:
    """Contribute projectors mapping encoder tokens into the LLM's embedding space.

    Returns a list of `ProjectorEntry`; ``build(options, in_dim, out_dim, context)`` returns a `Projector`
    (``context.modality``: the recipe key it serves, None when one projector is shared).
    """


@hookspec
def mmbind_llms() -> list[LLMEntry]:
    """Contribute language-model backends.

    Returns a list of `LLMEntry`; ``build(options, context)`` returns an `LLMBackend`.
    """


@hookspec
def mmbind_benchmarks() -> list[BenchmarkEntry]:
    """Contribute evaluation benchmarks read from local files (``mmbind eval --benchmark NAME``).

    Returns a list of `BenchmarkEntry`; ``load(data, options)`` returns a
    `mmbind.interfaces.benchmark.EvalSet`. Name the entry point after the benchmark so that looking it up
    imports only this module (mmbind's own benchmarks are plugins too: ``mmbind_plugins.benchmarks``).
    """


@hookspec
def mmbind_media_loaders() -> list[MediaLoaderEntry]:
    """Contribute media loaders: how files of a modality become decoded items.

    Returns a list of `MediaLoaderEntry`, each named after the data key it serves (``image``, ``video``,
    ``depth``, ``audio``, ...): its ``Options`` (validated from the recipe's ``data.media.<key>``), a
    ``build(options)`` returning a `mmbind.interfaces.MediaLoader`, the file suffixes that identify the
    modality and whether its items have a time axis. Image and video loading are contributed this way too;
    a modality's data, feature cache, evaluation sets and chat all go through its loader. Name the entry
    point after the modality.
    """


@hookspec
def mmbind_stage_kinds() -> list[StageKindEntry]:
    """Contribute training stage kinds: what a recipe stage's ``kind:`` names (``lm``, ``align``, ``mae``,
    ``dpo`` are contributed this way too).

    Returns a list of `StageKindEntry`: the kind's name, its ``options`` model (validated from the stage's
    ``options:`` like a part's), ``settle`` (the stage's own settings checked against the kind, implied ones
    filled), ``check`` (the stage cross-checked against the rest of the recipe) and ``build``, which takes
    the stage's `mmbind.train.objective.StageContext` and returns its `mmbind.train.objective.Objective`
    (`mmbind.train.model_stage.ModelObjective` does the model, data, feature cache, LoRA, freezing and
    DDP / FSDP wrapping for a kind that trains the model on conversations). Name the entry point after the
    kind.
    """
