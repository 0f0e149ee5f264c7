"""depth_text.py

Text about depth, in LLaVA format with a ``"depth"`` key (the map, `mmbind.synth.depth`) beside the image:

- ``pretrain_depth.json``: stage-1 captions of each training depth map alone (``<depth>`` + prompt), naming
  only what a depth map shows: how many objects, their shapes, sizes and cells from the nearest to the
  farthest (a lone object: how far away it is); never a colour.
- ``finetune_depth.json``: stage-2 conversations about a training image *and* its depth map
  (``<image>\\n<depth>\\n`` opening the first human turn), scenes with two or more objects only: 2-4 rounds
  of ``nearer`` / ``farther`` ("Which object is nearer, the red circle or the blue square?"), yes/no
  (``is_nearer``), ``nearest`` / ``farthest`` and a near-to-far ``describe``, plus at most one ordinary
  question about the image. Short rounds carry LLaVA-1.5's short-answer instruction, like ``finetune.json``.
- ``eval/depth_open.json``: held-out ``nearer`` and ``farther`` questions (short answer) about up to
  EVAL_PAIRS object pairs of each evaluation image with two or more objects. The canonical answer is the
  object's class with its article ("the red circle"; `normalize_answer` drops the article). Across the
  set, the right object is named first in exactly half (rounded up) of each type's questions, so a model
  blind to depth scores 50 % in expectation.

Objects are named by class, which is unique within an image: the colour comes from the image, the
distance from the depth map, so neither alone answers.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from mmbind.synth.depth import DepthItem
from mmbind.synth.items import gpt, human
from mmbind.synth.phrases import count_words, join, thing_phrase
from mmbind.synth.questions import QA, SHORT_SUFFIX, make_qa
from mmbind.synth.training import SHORT_P

NEARER = (  # phrasings; the first is the evaluation's
    "Which object is nearer, the {a} or the {b}?", "Which is closer to the camera, the {a} or the {b}?",
    "Which of the two is nearer to the camera: the {a} or the {b}?",
)
FARTHER = (
    "Which object is farther, the {a} or the {b}?", "Which is farther from the camera, the {a} or the {b}?",
    "Which of the two is farther from the camera: the {a} or the {b}?",
)
CAPTION_PROMPTS = ("Give a brief description of the depth map.", "Describe the depth map briefly.",
                   "What does the depth map show?")
DESCRIBE_PROMPT = "Describe the objects from the nearest to the farthest."
DISTANCE_WORDS = (  # (below this many mm, words) for a lone object's caption
    (3500, "close to the camera"), (6500, "at a middle distance"), (10**9, "far from the camera"),
)
KIND_WEIGHTS = {  # stage-2 round kind -> sampling weight ("image": an ordinary question about the image)
    "nearer": 1.5, "farther": 1.5, "is_nearer": 1.0, "nearest": 0.8, "farthest": 0.8, "describe": 0.6,
    "image": 0.6,
}
IMAGE_KINDS = ("colour", "shape", "count", "position", "size", "background", "exists")
EVAL_TYPES = ("nearer", "farther")
EVAL_PAIRS = 3  # object pairs asked about per evaluation image (at most)


def pair_qa(kind: str, item: DepthItem, a: str, b: str, phrasing: int = 0) -> QA:
    """``nearer`` / ``farther``: which of the objects of classes ``a`` and ``b`` (in that order)."""
    things = {t.name: t for t in item.scene.things}
    near, far = sorted((a, b), key=lambda name: item.distance(things[name]))
    question = (NEARER if kind == "nearer" else FARTHER)[phrasing].format(a=a, b=b)
    if kind == "nearer":
        return QA(kind, question, f"the {near}", f"The {near} is nearer than the {far}.")
    return QA(kind, question, f"the {far}", f"The {far} is farther than the {near}.")


def is_nearer_qa(item: DepthItem, a: str, b: str) -> QA:
    """"Is the red circle nearer than the blue square?" (yes / no)."""
    things = {t.name: t for t in item.scene.things}
    yes = item.distance(things[a]) < item.distance(things[b])
    sentence = f"Yes, the {a} is nearer than the {b}." if yes else f"No, the {a} is farther than the {b}."
    return QA("is_nearer", f"Is the {a} nearer than the {b}?", "yes" if yes else "no", sentence)


def extreme_qa(kind: str, item: DepthItem) -> QA:
    """``nearest`` / ``farthest`` object of the scene."""
    order = item.by_distance()
    name = (order[0] if kind == "nearest" else order[-1]).name
    return QA(kind, f"Which object is the {kind}?", f"the {name}", f"The {name} is the {kind} object.")


def depth_caption(item: DepthItem) -> str:
    """What the depth map alone shows (no colours)."""
    order = item.by_distance()
    if len(order) == 1:
        thing, mm = order[0], item.distances[0]
        where = next(words for limit, words in DISTANCE_WORDS if mm < limit)
        return f"One {thing.size} {thing.shape} in the {thing.position}, {where}."
    parts = [f"a {t.size} {t.shape} in the {t.position}" for t in order]
    how_many = count_words(len(order), "object").capitalize()
    return f"{how_many}, from the nearest to the farthest: {join(parts)}."


def near_to_far(item: DepthItem) -> str:
    """The image and the depth map together: every object with its colour, nearest first."""
    return f"From the nearest to the farthest: {join([thing_phrase(t) for t in item.by_distance()])}."


def _tags(text: str) -> str:
    return f"<image>\n<depth>\n{text}"


def _record(item: DepthItem, sample_id: str, turns: list[dict[str, str]], image: bool = True,
            **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": sample_id}
    if image:
        out["image"] = item.media.path
    out["depth"] = item.path
    return {**out, **fields, "conversations": turns}


def depth_caption_record(item: DepthItem, rng: random.Random) -> dict[str, Any]:
    """A stage-1 sample: the depth map alone and its caption."""
    turns = [human(f"<depth>\n{rng.choice(CAPTION_PROMPTS)}"), gpt(depth_caption(item))]
    return _record(item, item.id, turns, image=False)


def _round(kind: str, item: DepthItem, rng: random.Random) -> QA:
    a, b = (t.name for t in rng.sample(item.scene.things, 2))
    if kind in ("nearer", "farther"):
        return pair_qa(kind, item, a, b, rng.randrange(len(NEARER)))
    if kind == "is_nearer":
        return is_nearer_qa(item, a, b)
    if kind in ("nearest", "farthest"):
        return extreme_qa(kind, item)
    return make_qa(rng.choice(IMAGE_KINDS), item.scene, rng)


def depth_instruction_record(item: DepthItem, rng: random.Random) -> dict[str, Any]:
    """A stage-2 conversation about an image with two or more objects and its depth map."""
    turns: list[dict[str, str]] = []
    kinds: list[str] = []
    for _ in range(rng.choice((2, 3, 3, 4))):
        free = [kind for kind in KIND_WEIGHTS if kind not in kinds]
        kinds.append(rng.choices(free, weights=[KIND_WEIGHTS[kind] for kind in free])[0])
    for kind in kinds:
        if kind == "describe":
            question, answer = DESCRIBE_PROMPT, near_to_far(item)
        else:
            qa = _round(kind, item, rng)
            short = rng.random() < SHORT_P
            question = f"{qa.question}\n{SHORT_SUFFIX}" if short else qa.question
            answer = qa.answer if short else qa.sentence
        turns += [human(_tags(question) if not turns else question), gpt(answer)]
    return _record(item, item.id, turns)


def depth_open_records(items: list[DepthItem], rng: random.Random) -> list[dict[str, Any]]:
    """The held-out ``nearer`` / ``farther`` questions (see the module docstring for the balance)."""
    plans = []
    for item in items:
        n = len(item.scene.things)
        pairs = list(itertools.combinations(range(n), 2))
        for index, pair in enumerate(sorted(rng.sample(pairs, min(EVAL_PAIRS, len(pairs))))):
            plans += [(item, index, pair, kind) for kind in EVAL_TYPES]
    first: dict[str, list[bool]] = {}
    for kind in EVAL_TYPES:
        total = sum(plan[3] == kind for plan in plans)
        first[kind] = [i < (total + 1) // 2 for i in range(total)]
        rng.shuffle(first[kind])
    out = []
    for item, index, (i, j), kind in plans:
        a, b = item.scene.things[i].name, item.scene.things[j].name
        if (pair_qa(kind, item, a, b).answer == f"the {a}") != first[kind].pop():
            a, b = b, a
        qa = pair_qa(kind, item, a, b)
        turns = [human(_tags(f"{qa.question}\n{SHORT_SUFFIX}")), gpt(qa.answer)]
        out.append(_record(item, f"{item.id}-{kind}-{index}", turns, type=kind, answer=qa.answer))
    return out
