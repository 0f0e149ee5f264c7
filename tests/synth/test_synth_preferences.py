"""The synthetic world's preference pairs: one per training item, the chosen answer true of the scene and
the rejected one a hallucination of the kind it names (an absent object said present, a present one said
absent, a wrong colour, shape, count or motion), in words the tokenizer knows; the chosen answers also as
plain conversations."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from mmbind.data.preferences import parse_preference
from mmbind.data.records import read_source
from mmbind.synth import get_size, read_manifest
from mmbind.synth.generate import _items
from mmbind.synth.preferences import preference_record


def _load(root, name):
    return json.loads((root / name).read_text(encoding="utf-8"))


def test_one_pair_per_training_item_readable_as_preference_data(micro):
    pairs = _load(micro, "preferences.json")
    manifest = read_manifest(micro)
    counts = manifest["counts"]
    assert len(pairs) == counts["preferences"] == counts["train_image"] + counts["train_video"]
    assert manifest["train"]["preferences"] == "preferences.json"
    source = read_source(str(micro / "preferences.json"), media_keys=["image", "video"])
    for index, pair in enumerate(pairs):
        chosen, rejected = parse_preference(source, index)  # a valid pair: differing, non-empty answers
        assert chosen.turns[-1][1] == pair["chosen"] and rejected.turns[-1][1] == pair["rejected"]
        assert chosen.files("image") or chosen.files("video")
    kinds = Counter(p["hallucination"] for p in pairs)
    assert set(kinds) <= {"exists", "missed", "colour", "shape", "count", "motion"} and len(kinds) >= 3


def test_the_chosen_answer_is_true_and_the_rejected_one_is_its_hallucination(micro):
    scenes = {s["path"]: s for s in _load(micro, "scenes.json") if s["split"] == "train"}
    for pair in _load(micro, "preferences.json"):
        scene = scenes[pair.get("image") or pair["video"]]
        names = {f"{t['colour']} {t['shape']}" for t in scene["things"]}
        question = pair["conversations"][0]["value"]
        chosen, rejected = pair["chosen"].lower(), pair["rejected"].lower()
        kind = pair["hallucination"]
        if kind == "exists":
            absent = question.split("Is there a ")[1].split(" in the ")[0]
            assert absent not in names and chosen.startswith("no") and rejected.startswith("yes")
        elif kind == "missed":
            present = question.split("Is there a ")[1].split(" in the ")[0]
            assert present in names and chosen.startswith("yes") and rejected.startswith("no")
        elif kind == "count":
            assert chosen != rejected and (str(len(scene["things"])) in chosen or chosen.startswith("there"))
        elif kind == "motion":
            assert scene["modality"] == "video"
        assert chosen != rejected


def test_the_chosen_answers_as_conversations(micro):
    pairs = _load(micro, "preferences.json")
    plain = _load(micro, "preferences_chosen.json")
    assert [p["conversations"][:-1] for p in plain] == [p["conversations"] for p in pairs]
    assert [p["conversations"][-1] for p in plain] == [{"from": "gpt", "value": p["chosen"]} for p in pairs]


def test_the_pairs_use_words_the_tokenizer_knows(micro):
    vocab = json.loads((micro / "tokenizer" / "tokenizer.json").read_text())["model"]["vocab"]
    words = {w.strip(".,?").lower() for p in _load(micro, "preferences.json")
             for w in (p["chosen"] + " " + p["rejected"]).split()}
    assert {w for w in words if w not in vocab and w.lower() not in vocab} == set()


def test_pairs_follow_their_streams_and_count_only_what_the_world_has():
    items = _items(0, get_size("micro"))
    train = items["train_image"] + items["train_video"]
    first = [preference_record(i, random.Random(f"p:{i.id}")) for i in train]
    assert first == [preference_record(i, random.Random(f"p:{i.id}")) for i in train]
    for seed in range(20):  # count hallucinations stay within the world's 1-4 objects
        for item in train:
            pair = preference_record(item, random.Random(f"{seed}:{item.id}"))
            if pair["hallucination"] == "count":
                assert not {"0", "5", "zero", "five"} & set(pair["rejected"].lower().strip(".").split())


@pytest.mark.slow
def test_existence_pairs_choose_yes_as_often_as_no():
    # pairs that only ever chose "no" would teach preference training to deny every object
    items = _items(0, get_size("small"))
    train = items["train_image"] + items["train_video"]
    pairs = [preference_record(i, random.Random(f"p:{i.id}")) for i in train]
    answers = Counter(p["chosen"].lower()[:2] for p in pairs if p["hallucination"] in ("exists", "missed"))
    assert answers["ye"] > 0 and 0.8 < answers["no"] / answers["ye"] < 1.25
