"""evalsets.py

Held-out evaluation sets, built from the evaluation split's media only, one open-question set and one
POPE set per modality (``image_open``, ``image_pope``, ``video_open``, ``video_pope``; the depth set
``depth_open`` is built by `mmbind.synth.depth_text`).

- Open questions: per item one question of each type (images: colour, shape, count; videos: also
  motion), with LLaVA-1.5's short-answer instruction; ``type`` and the canonical ``answer`` are fields of
  the record (and the gpt turn).
- POPE (Li et al., 2023): per item up to 3 present object classes ("yes") and as many absent ones ("no")
  per negative-sampling ``split``: ``random`` (any absent class), ``popular`` (the absent classes most
  frequent in the training scenes), ``adversarial`` (the absent classes that co-occur most often with the
  present ones in the training scenes). Questions read "Is there a red circle in the image?".
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from mmbind.synth.concepts import Scene, object_classes
from mmbind.synth.items import GeneratedMedia, gpt, human, record, with_tag
from mmbind.synth.questions import SHORT_SUFFIX, exists_qa, make_qa

OPEN_TYPES = {"image": ("colour", "shape", "count"), "video": ("colour", "shape", "count", "motion")}
POPE_SPLITS = ("random", "popular", "adversarial")
POPE_POSITIVES = 3  # present classes probed per item (at most)


def open_records(items: list[GeneratedMedia], rng: random.Random) -> list[dict[str, Any]]:
    """Open questions about each evaluation item."""
    out = []
    for item in items:
        for kind in OPEN_TYPES[item.modality]:
            qa = make_qa(kind, item.scene, rng)
            turns = [human(with_tag(item, f"{qa.question}\n{SHORT_SUFFIX}")), gpt(qa.answer)]
            out.append(record(item, f"{item.id}-{kind}", turns, type=kind, answer=qa.answer))
    return out


class CooccurrenceStats:
    """Class frequencies and pairwise co-occurrence counts over a set of scenes."""

    def __init__(self, scenes: list[Scene]) -> None:
        self.frequency: Counter[str] = Counter(c for s in scenes for c in set(s.classes))
        self.pairs: Counter[tuple[str, str]] = Counter(
            (a, b) for s in scenes for a in s.classes for b in s.classes if a != b
        )

    def popular(self, absent: list[str], k: int) -> list[str]:
        """The ``k`` most frequent of ``absent`` (ties by name)."""
        return sorted(absent, key=lambda c: (-self.frequency[c], c))[:k]

    def adversarial(self, absent: list[str], present: list[str], k: int) -> list[str]:
        """The ``k`` of ``absent`` co-occurring most with ``present`` (ties by frequency, then name)."""
        score = {c: sum(self.pairs[(p, c)] for p in present) for c in absent}
        return sorted(absent, key=lambda c: (-score[c], -self.frequency[c], c))[:k]


def pope_records(
    items: list[GeneratedMedia], stats: CooccurrenceStats, rng: random.Random
) -> list[dict[str, Any]]:
    """POPE probes for every item, grouped by split (random, popular, adversarial)."""
    plans = []
    for item in items:
        present = item.scene.classes
        positives = rng.sample(present, min(POPE_POSITIVES, len(present)))
        absent = [c for c in object_classes() if c not in present]
        k = len(positives)
        negatives = {
            "random": rng.sample(absent, k),
            "popular": stats.popular(absent, k),
            "adversarial": stats.adversarial(absent, present, k),
        }
        plans.append((item, positives, negatives))
    out = []
    for split in POPE_SPLITS:
        for item, positives, negatives in plans:
            for i, name in enumerate(positives + negatives[split]):
                qa = exists_qa(item.scene, name)
                turns = [human(with_tag(item, f"{qa.question}\n{SHORT_SUFFIX}")), gpt(qa.answer)]
                sample_id = f"{item.id}-{split}-{i}"
                out.append(record(item, sample_id, turns, split=split, object=name, answer=qa.answer))
    return out
