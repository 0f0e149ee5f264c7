"""entries.py

What one plugin contributes for one named part: its kind, name, pydantic ``Options`` schema and a small
``build`` function -- or, for an evaluation benchmark, a ``load`` function reading its local files; for a
training stage kind, its options, its recipe checks and the objective it builds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

if TYPE_CHECKING:
    from mmbind.interfaces import BuildContext, Encoder, LLMBackend, MediaLoader, Projector

PartKind = Literal["encoder", "projector", "llm", "benchmark", "loader", "stage_kind"]


@dataclass(frozen=True)
class EncoderEntry:
    """An encoder contribution. ``build(options, context) -> Encoder``."""

    name: str  # unique among encoders, used as ``plugin:`` in recipes
    options: type[BaseModel]  # validates the recipe's ``options`` for this encoder
    build: Callable[[BaseModel, BuildContext], Encoder]  # constructs the encoder
    modalities: tuple[str, ...] = ("image",)  # recipe keys it can serve; "*" accepts any
    description: str = ""  # one line for `mmbind plugins`
    kind: PartKind = field(default="encoder", init=False)

    def accepts(self, modality: str) -> bool:
        """True when this encoder can serve the recipe key ``modality``."""
        return "*" in self.modalities or modality in self.modalities


@dataclass(frozen=True)
class ProjectorEntry:
    """A projector contribution. ``build(options, in_dim, out_dim, context) -> Projector``.

    ``context.modality`` is the recipe key the projector serves, None for the shared projector.
    """

    name: str  # unique among projectors
    options: type[BaseModel]  # validates the recipe's ``options``
    build: Callable[[BaseModel, int, int, BuildContext], Projector]  # constructs the projector
    description: str = ""  # one line for `mmbind plugins`
    kind: PartKind = field(default="projector", init=False)


@dataclass(frozen=True)
class LLMEntry:
    """A language-model backend contribution. ``build(options, context) -> LLMBackend``."""

    name: str  # unique among LLM backends
    options: type[BaseModel]  # validates the recipe's ``options``
    build: Callable[[BaseModel, BuildContext], LLMBackend]  # constructs the backend
    description: str = ""  # one line for `mmbind plugins`
    kind: PartKind = field(default="llm", init=False)


@dataclass(frozen=True)
class BenchmarkEntry:
    """An evaluation benchmark read from local files. ``load(data, options) -> EvalSet``
    (`mmbind.interfaces.benchmark`): ``data`` is the folder or file given to ``mmbind eval --data``,
    ``options`` the ``--bench-option KEY=VALUE`` pairs. The set's ``kind`` says how its answers are scored:
    ``qa`` (open answers: the GPT judge, or the offline normalised match), ``pope`` (yes/no, POPE's scores)
    or ``open`` (exact match)."""

    name: str  # unique among benchmarks, used as ``mmbind eval --benchmark NAME``
    load: Callable[..., Any]  # (data: Path, options: dict[str, str]) -> mmbind.interfaces.benchmark.EvalSet
    description: str = ""  # one line for `mmbind plugins`
    kind: PartKind = field(default="benchmark", init=False)


@dataclass(frozen=True)
class MediaLoaderEntry:
    """How files of one modality are read. ``build(options) -> MediaLoader``.

    ``name`` is the data key it serves (``"depth"`` reads a sample's ``"depth": path`` and its ``<depth>``
    tags); ``options`` validates the recipe's ``data.media.<name>`` (for temporal loaders the host fills
    ``frames`` from ``data.video_frames`` and a ``backend`` from ``data.video_backend`` when the options
    model has such fields and the recipe leaves them out); ``suffixes`` are the file suffixes (lower case,
    with the dot) by which a bare path is recognised as this modality (``mmbind chat --media PATH``,
    ``mmbind infer``, benchmark folders); ``temporal``: items have a time axis, so an encoder serving this
    key defaults to ``BuildContext.temporal``. Two plugins contributing one name is an error naming both.
    """

    name: str  # the data key / modality it serves, e.g. "image", "video", "depth"
    options: type[BaseModel]  # validates ``data.media.<name>``
    build: Callable[[BaseModel], MediaLoader]  # constructs the loader
    suffixes: tuple[str, ...] = ()  # file suffixes recognised as this modality (".png", ".wav", ...)
    temporal: bool = False  # items are frame sequences (the encoder's default time axis)
    description: str = ""  # one line for `mmbind plugins`
    kind: PartKind = field(default="loader", init=False)


@dataclass(frozen=True)
class StageKindEntry:
    """A training stage kind (a recipe stage's ``kind:``). ``build(ctx) -> Objective``.

    ``options`` validates the stage's ``options:`` (None: the kind takes none); ``settle(stage, options)``
    checks the stage's own settings against the kind and may fill the fields the kind implies (raise
    ``ValueError`` with the message); ``check(recipe, stage_name, options, registry, source)`` cross-checks
    the stage against the rest of the recipe (raise `mmbind.errors.RecipeError` naming ``source``, the
    recipe file, and the field); ``build(ctx)`` takes a
    `mmbind.train.objective.StageContext` and returns the stage's `mmbind.train.objective.Objective`, which
    the one trainer loop runs. Two plugins contributing one kind is an error naming both.
    """

    name: str  # the recipe's ``kind:`` value, e.g. "lm", "dpo"
    build: Callable[[Any], Any]  # (StageContext) -> Objective
    options: type[BaseModel] | None = None  # validates the stage's ``options:``
    settle: Callable[[Any, Any], None] | None = None  # (StageSpec, options) -> None; ValueError
    # (recipe, stage name, options, registry, source) -> None; RecipeError
    check: Callable[[Any, str, Any, Any, str], None] | None = None
    description: str = ""  # one line for `mmbind plugins`
    kind: PartKind = field(default="stage_kind", init=False)


Entry = EncoderEntry | ProjectorEntry | LLMEntry | BenchmarkEntry | MediaLoaderEntry | StageKindEntry

HOOK_KINDS: dict[str, PartKind] = {
    "mmbind_encoders": "encoder",
    "mmbind_projectors": "projector",
    "mmbind_llms": "llm",
    "mmbind_benchmarks": "benchmark",
    "mmbind_media_loaders": "loader",
    "mmbind_stage_kinds": "stage_kind",
}
ENTRY_TYPES: dict[PartKind, type] = {
    "encoder": EncoderEntry, "projector": ProjectorEntry, "llm": LLMEntry, "benchmark": BenchmarkEntry,
    "loader": MediaLoaderEntry, "stage_kind": StageKindEntry,
}
