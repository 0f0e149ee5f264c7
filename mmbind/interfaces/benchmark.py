"""benchmark.py

What a benchmark's ``load(data, options)`` returns (`mmbind.registry.BenchmarkEntry`, hook
``mmbind_benchmarks``): an `EvalSet` of `EvalItem` questions. The set's ``kind`` says how its answers are
scored (`mmbind.eval.scoring`): ``open`` (normalised exact match, by question type), ``pope`` (yes/no
probes, POPE's scores by negative-sampling split) or ``qa`` (open answers judged by a GPT judge, or the
offline normalised match). An item's media are (data key, file) pairs read by the installed media loaders.
Helpers that benchmark loaders share are in ``mmbind.interfaces.benchmark_helpers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class EvalItem:
    """One question of a set."""

    id: str  # sample id
    modality: str | None  # data key of its first media item ("image", "video", "depth" ...); None: text
    media: Path | None  # the media file
    question: str  # the human turn without its media tags
    answer: str  # the ground-truth answer
    group: str  # question type (open sets) or negative-sampling split (POPE sets)
    also: tuple[tuple[str, Path], ...] = ()  # further (modality, file) items, in tag order

    def items(self) -> list[tuple[str, Path]]:
        """Every (modality, file) of the question, in tag order."""
        first = [(self.modality, self.media)] if self.modality and self.media else []
        return first + list(self.also)


@dataclass(frozen=True)
class EvalSet:
    """A named evaluation set."""

    name: str  # e.g. "video_pope"
    kind: str  # "open", "pope" or "qa": how its answers are scored
    modality: str  # the modality it tests ("image", "video", "depth" ...): a model needs its encoder
    file: Path  # its file (or folder)
    items: list[EvalItem]  # its questions
