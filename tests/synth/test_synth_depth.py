"""Depth in the synthetic benchmark: 16-bit millimetre depth maps that agree with the scenes' distances and
the RGB frames, depth captions and conversations, the held-out nearer / farther set (answers right,
chance balanced), and that nothing generated before depth existed changed (bytes pinned from the generator
as it was), determinism and train / eval disjointness."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmbind.eval.normalize import normalize_answer
from mmbind.synth import generate_dataset, read_manifest
from mmbind.synth.concepts import BACKGROUNDS, CELLS, COLOURS, Scene, Thing
from mmbind.synth.depth import (
    BACKGROUND_MM,
    FARTHEST_MM,
    MIN_GAP_MM,
    NEAREST_MM,
    DepthItem,
    render_depth,
    sample_distances,
)
from mmbind.synth.depth_text import depth_instruction_record, depth_open_records
from mmbind.synth.draw import render_frame, render_video
from mmbind.synth.items import GeneratedMedia
from mmbind.synth.media_io import write_image, write_video
from mmbind.synth.questions import SHORT_SUFFIX
from mmbind.synth.tokenizer import train_tokenizer
from mmbind.synth.world import sample_image_scene
from tests.support.synth import tree_hashes

SIZE = 32  # the micro size's media side
PAIR = re.compile(r"the (\w+ \w+) or the (\w+ \w+)\?")
IS_NEARER = re.compile(r"^Is the (\w+ \w+) nearer than the (\w+ \w+)\?")
# the micro dataset (seed 0) as the generator wrote it before depth existed (machine-independent bytes)
PRE_DEPTH_SHA256 = {
    "pretrain.json": "57b6539cdc59209bd93098181aca79b0b91e44fba7f923fbf1dca77727ca84e0",
    "finetune.json": "00d31cb712b0739a09cc304593f38c348de27e3f70f2befe2e54cf4e5c7d0e91",
    "scenes.json": "9a3e620f34440ba0adefe1ab810043862611395ce99cf9ecc44b55f536828fbf",
    "eval/image_open.json": "0adb5af6995523c11569178e4accbfcb9451457ddbaabbbe50433f49e72fec2d",
    "eval/image_pope.json": "5636058dad0daa0177a3bca6d37cd7d06e8a4b80f76c58eb8168ab789e961b8c",
    "eval/video_open.json": "0797987cba2d0f7665a853cddbfcc0304b6dd70339bcb5e277cb2a4297ee1f8e",
    "eval/video_pope.json": "9720579dbeb9b8f6a4145befa29c75a51e04fc1cab5160909832c843e85a20b3",
}
PRE_DEPTH_PNG_PIXELS = "c10a35592809f6895ebcd7405b234724c8b6fb32aef9a3833eb75df04e7671a8"  # see png_pixels
NEW_FILES = ("depth.json", "pretrain_depth.json", "finetune_depth.json", "eval/depth_open.json")


def load(root: Path, name: str) -> list[dict]:
    return json.loads((root / name).read_text())


def scene_of(entry: dict) -> Scene:
    """The `Scene` of a scenes.json entry."""
    things = tuple(Thing(**{**t, "jitter": tuple(t["jitter"])}) for t in entry["things"])
    return Scene(entry["modality"], entry["background"], things)


def distances(root: Path) -> dict[str, dict[str, int]]:
    """Dataset-relative image path -> object class -> distance (mm), from depth.json."""
    entries = load(root, "depth.json")
    return {d["image"]: dict(zip(d["objects"], d["distances_mm"], strict=True)) for d in entries}


def png_pixels(root: Path) -> str:
    """SHA-256 over the decoded pixels of every PNG training and evaluation image (zlib-independent)."""
    digest = hashlib.sha256()
    for path in sorted([*(root / "images").glob("*.png"), *(root / "eval" / "images").glob("*.png")]):
        with Image.open(path) as image:
            digest.update(path.relative_to(root).as_posix().encode() + np.asarray(image).tobytes())
    return digest.hexdigest()


def colour(thing: Thing) -> np.ndarray:
    """The RGB the renderer fills ``thing`` with (its colour plus its jitter offset, clamped)."""
    return np.clip(np.array(COLOURS[thing.colour]) + thing.jitter[2], 0, 255)


def quadrant(position: str, size: int) -> np.ndarray:
    """Pixels of a grid cell (an object never leaves its cell)."""
    cx, cy = CELLS[position]
    ys, xs = np.mgrid[:size, :size]
    return ((xs < size // 2) == (cx < 0.5)) & ((ys < size // 2) == (cy < 0.5))


def test_existing_files_are_byte_identical_to_the_generator_before_depth(micro, tmp_path):
    hashes = tree_hashes(micro)
    assert {name: hashes[name] for name in PRE_DEPTH_SHA256} == PRE_DEPTH_SHA256
    assert png_pixels(micro) == PRE_DEPTH_PNG_PIXELS
    for entry in load(micro, "scenes.json"):  # every media file is exactly its scene rendered and encoded
        scene, again = scene_of(entry), tmp_path / entry["path"]
        if scene.modality == "image":
            write_image(render_frame(scene, SIZE), again)
        else:
            write_video(render_video(scene, SIZE, 4), again)
        assert again.read_bytes() == (micro / entry["path"]).read_bytes(), entry["path"]
    assert not {p for p in hashes if p.startswith(("depth", "eval/depth"))} & {e["path"] for e in
                                                                              load(micro, "scenes.json")}


def test_depth_maps_are_16_bit_millimetres_matching_scene_and_image(micro):
    scenes = {s["path"]: scene_of(s) for s in load(micro, "scenes.json")}
    entries = load(micro, "depth.json")
    assert [e["image"] for e in entries] == [p for p, s in scenes.items() if s.modality == "image"]
    for entry in entries:
        scene, path = scenes[entry["image"]], micro / entry["depth"]
        assert Path(entry["depth"]).stem == Path(entry["image"]).stem
        assert entry["background_mm"] == BACKGROUND_MM
        assert entry["objects"] == scene.classes
        header = path.read_bytes()[:26]
        assert header[12:16] == b"IHDR" and (header[24], header[25]) == (16, 0)  # 16-bit grey PNG
        with Image.open(path) as image:
            assert image.mode == "I;16" and image.size == (SIZE, SIZE)
            depth = np.asarray(image).astype(int)
        mm = entry["distances_mm"]
        assert all(NEAREST_MM <= d <= FARTHEST_MM for d in mm)
        assert all(abs(a - b) >= MIN_GAP_MM for a, b in itertools.combinations(mm, 2))
        assert set(np.unique(depth).tolist()) == {*mm, BACKGROUND_MM}  # every object visible, nothing blended
        rgb = np.asarray(render_frame(scene, SIZE)).astype(int)
        background = np.array(BACKGROUNDS[scene.background])
        assert (depth[(rgb == background).all(-1)] == BACKGROUND_MM).all()
        for thing, d in zip(scene.things, mm, strict=True):
            cell, fill = quadrant(thing.position, SIZE), colour(thing)
            inside = (rgb == fill).all(-1) & cell  # fully covered pixels
            assert inside.sum() > 4 and (depth[inside] == d).all()
            drawn = depth == d  # at least half covered: at least half-way from the background to the fill
            tolerance = np.ceil(np.abs(fill - background) / 2) + 1
            assert (drawn <= cell).all() and (np.abs(rgb[drawn] - fill) <= tolerance).all()
            assert drawn.sum() >= inside.sum()


def test_object_size_in_the_depth_map_does_not_depend_on_distance():
    scene = Scene("image", "grey", (Thing("red", "circle", "large", "top left"),
                                    Thing("blue", "triangle", "small", "bottom right")))
    near, far = render_depth(scene, (1000, 9000), 64), render_depth(scene, (9000, 1000), 64)
    assert near.dtype == np.uint16 and ((near == 1000) == (far == 9000)).all()
    assert ((near == 9000) == (far == 1000)).all() and (near[40:, :20] == BACKGROUND_MM).all()
    assert abs(int(near[16, 16]) - 1000) == 0 and int(near[50, 50]) == 9000


def test_sampled_distances_are_spread_and_unordered():
    rng, nearest_first = random.Random(0), Counter()
    for n in (1, 2, 3, 4) * 300:
        mm = sample_distances(n, rng)
        assert len(mm) == n and all(NEAREST_MM <= d <= FARTHEST_MM for d in mm)
        assert all(abs(a - b) >= MIN_GAP_MM for a, b in itertools.combinations(mm, 2))
        if n == 4:
            nearest_first[mm.index(min(mm))] += 1
    assert all(50 < nearest_first[i] < 100 for i in range(4))  # no slot is favoured (75 expected each)


def test_depth_open_answers_agree_with_the_distances_and_are_balanced(micro):
    manifest = read_manifest(micro)
    samples = load(micro, "eval/depth_open.json")
    assert manifest["eval_sets"]["depth_open"] == {"file": "eval/depth_open.json", "kind": "open",
                                                   "modality": "depth", "samples": len(samples)}
    mm = distances(micro)
    expected = {f"images/{Path(p).name}": min(3, math.comb(len(d), 2)) for p, d in mm.items()
                if p.startswith("eval/") and len(d) >= 2}
    first = Counter()
    for sample in samples:
        human, gpt = sample["conversations"]
        assert set(sample) == {"id", "image", "depth", "type", "answer", "conversations"}
        assert sample["depth"] == f"depth/{Path(sample['image']).stem}.png"
        assert human["value"].startswith("<image>\n<depth>\nWhich object is ")
        assert human["value"].endswith(f"?\n{SHORT_SUFFIX}") and gpt["value"] == sample["answer"]
        a, b = PAIR.search(human["value"]).groups()
        d = mm["eval/" + sample["image"]]
        near, far = sorted((a, b), key=d.get)
        assert sample["answer"] == f"the {near if sample['type'] == 'nearer' else far}"
        assert normalize_answer(sample["answer"]) == normalize_answer(sample["answer"][4:])  # the bare class
        first[sample["type"]] += sample["answer"] == f"the {a}"
    per_image = Counter(s["image"] for s in samples)
    assert per_image == {p: 2 * n for p, n in expected.items()} and len(samples) >= 12
    kinds = Counter(s["type"] for s in samples)
    assert set(kinds) == {"nearer", "farther"} and kinds["nearer"] == kinds["farther"]
    assert all(first[k] == (kinds[k] + 1) // 2 for k in kinds)  # the right object named first half the time
    assert len({s["id"] for s in samples}) == len(samples)


def _items(n: int, seed: int) -> list[DepthItem]:
    rng, out = random.Random(seed), []
    while len(out) < n:
        scene = sample_image_scene(rng)
        if len(scene.things) >= 2:
            media = GeneratedMedia(f"eval-image-{len(out):05d}", "eval", f"images/{len(out):05d}.png", scene)
            out.append(DepthItem(media, sample_distances(len(scene.things), rng)))
    return out


def test_balance_holds_for_any_set_and_training_rounds_are_unbiased():
    samples = depth_open_records(_items(37, 1), random.Random(2))
    for kind in ("nearer", "farther"):
        group = [s for s in samples if s["type"] == kind]
        named_first = [PAIR.search(s["conversations"][0]["value"]).group(1) for s in group]
        assert sum(s["answer"] == f"the {a}" for s, a in zip(group, named_first)) == (len(group) + 1) // 2
    first = total = 0
    for item in _items(300, 3):
        for turn in depth_instruction_record(item, random.Random(item.media.id))["conversations"]:
            match = PAIR.search(turn["value"])
            if turn["from"] == "human" and match:
                total += 1
                first += item.distance(item.scene.things[item.scene.classes.index(match.group(1))]) < \
                    item.distance(item.scene.things[item.scene.classes.index(match.group(2))])
    assert total > 200 and 0.4 < first / total < 0.6


def _check_round(question: str, answer: str, d: dict[str, int]) -> str:
    """The kind of a depth round, asserting its answer (short or sentence) agrees with ``d``."""
    question = question.removesuffix(f"\n{SHORT_SUFFIX}")
    order = sorted(d, key=d.get)
    if (match := IS_NEARER.match(question)) is not None:
        a, b = match.groups()
        yes = d[a] < d[b]
        sentence = f"Yes, the {a} is nearer than the {b}." if yes else f"No, the {a} is farther than the {b}."
        assert answer in ("yes" if yes else "no", sentence)
        return "is_nearer"
    if (match := PAIR.search(question)) is not None:
        near, far = sorted(match.groups(), key=d.get)
        if "nearer" in question or "closer" in question:
            assert answer in (f"the {near}", f"The {near} is nearer than the {far}.")
            return "nearer"
        assert "farther" in question and answer in (f"the {far}", f"The {far} is farther than the {near}.")
        return "farther"
    if question.startswith("Which object is the "):
        kind = question.removeprefix("Which object is the ").rstrip("?")
        name = order[0] if kind == "nearest" else order[-1]
        assert answer in (f"the {name}", f"The {name} is the {kind} object.")
        return kind
    if question.startswith("Describe the objects from the nearest"):
        named = re.findall(r"(?:small|large) (\w+ \w+) in the", answer)
        assert named == order
        return "describe"
    return "image"


def test_finetune_depth_conversations(micro):
    mm = distances(micro)
    samples = load(micro, "finetune_depth.json")
    assert len(samples) == read_manifest(micro)["counts"]["finetune_depth"] == sum(
        1 for p, d in mm.items() if not p.startswith("eval/") and len(d) >= 2)
    kinds = Counter()
    for sample in samples:
        assert set(sample) == {"id", "image", "depth", "conversations"}
        assert sample["depth"] == f"depth/{Path(sample['image']).stem}.png"
        turns = sample["conversations"]
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2) and len(turns) >= 4
        assert turns[0]["value"].startswith("<image>\n<depth>\n")
        assert sum(t["value"].count("<") for t in turns) == 2  # one tag per file, in the first turn
        d = mm[sample["image"]]
        for question, answer in zip(turns[::2], turns[1::2]):
            kinds[_check_round(question["value"].removeprefix("<image>\n<depth>\n"), answer["value"], d)] += 1
    assert {"nearer", "farther", "is_nearer"} <= set(kinds) and len(kinds) >= 5


def test_pretrain_depth_captions_name_no_colour(micro):
    mm, scenes = distances(micro), {s["path"]: scene_of(s) for s in load(micro, "scenes.json")}
    samples = load(micro, "pretrain_depth.json")
    assert len(samples) == read_manifest(micro)["counts"]["pretrain_depth"] == 16
    maps = sorted(f"depth/{p.name}" for p in (micro / "depth").iterdir())
    assert sorted(s["depth"] for s in samples) == maps
    for sample in samples:
        assert set(sample) == {"id", "depth", "conversations"}
        human, gpt = sample["conversations"]
        assert human["value"].startswith("<depth>\n") and human["value"].count("<") == 1
        assert not set(re.findall(r"\w+", gpt["value"])) & set(COLOURS)
        image = next(p for p in mm if p.startswith("images/") and Path(p).stem == Path(sample["depth"]).stem)
        d = mm[image]
        by_class = {t.name: t for t in scenes[image].things}
        order = [by_class[c] for c in sorted(d, key=d.get)]
        described = re.findall(r"(small|large) (circle|square|triangle) in the (\w+ \w+)", gpt["value"])
        assert described == [(t.size, t.shape, t.position) for t in order]


def test_train_and_eval_stay_disjoint_with_depth(micro):
    hashes = tree_hashes(micro)
    train_maps = {p for p in hashes if p.startswith("depth/")}
    eval_maps = {p for p in hashes if p.startswith("eval/depth/")}
    assert len(train_maps) == 16 and len(eval_maps) == 6
    used = {s["depth"] for name in ("pretrain_depth.json", "finetune_depth.json") for s in load(micro, name)}
    assert used == train_maps
    train_images = {p for p in hashes if p.startswith("images/")}
    assert {s["image"] for s in load(micro, "finetune_depth.json")} <= train_images
    assert {"eval/" + s["depth"] for s in load(micro, "eval/depth_open.json")} <= eval_maps
    assert not {hashes[p] for p in train_maps} & {hashes[p] for p in eval_maps}


def test_manifest_lists_the_depth_files_and_overwrite_regenerates_them(micro, tmp_path):
    manifest = read_manifest(micro)
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    hashes = tree_hashes(micro)
    assert {p for p in hashes if "depth" in p} <= set(listed) and all(listed[p] == hashes[p] for p in listed)
    assert set(NEW_FILES) <= set(listed)
    assert manifest["train"] == {
        "pretrain": "pretrain.json", "finetune": "finetune.json",
        "pretrain_depth": "pretrain_depth.json", "finetune_depth": "finetune_depth.json",
        "preferences": "preferences.json", "preferences_chosen": "preferences_chosen.json",
    }
    assert manifest["depth"] == {"file": "depth.json", "unit": "mm", "background_mm": BACKGROUND_MM}
    counts = manifest["counts"]
    assert (counts["train_depth"], counts["eval_depth"]) == (16, 6)
    copy = tmp_path / "copy"
    shutil.copytree(micro, copy)
    generate_dataset(copy, seed=0, size="micro", overwrite=True)  # replaces the depth files it listed
    assert tree_hashes(copy) == hashes


def test_the_tokenizer_is_unchanged_and_its_depth_copy_knows_the_depth_words(micro, tmp_path):
    from transformers import AutoTokenizer

    names = ("pretrain.json", "finetune.json", *(f"eval/{m}_{k}.json" for m in ("image", "video")
                                                  for k in ("open", "pope")))
    train_tokenizer([load(micro, n) for n in names], tmp_path / "before")
    for file in (tmp_path / "before").iterdir():  # the image + video tokenizer: as before depth existed
        assert (micro / "tokenizer" / file.name).read_bytes() == file.read_bytes(), file.name
    before = json.loads((tmp_path / "before" / "tokenizer.json").read_text())["model"]["vocab"]
    after = json.loads((micro / "tokenizer_depth" / "tokenizer.json").read_text())["model"]["vocab"]
    assert {w: after[w] for w in before} == before and len(after) > len(before)
    assert sorted(after.values()) == list(range(len(after))) and "<" not in after
    tokenizer = AutoTokenizer.from_pretrained(micro / "tokenizer_depth")
    manifest = read_manifest(micro)
    assert manifest["tokenizer_depth"] == {"dir": "tokenizer_depth", "style": "wordlevel",
                                           "vocab_size": len(tokenizer)}
    assert manifest["tokenizer"]["vocab_size"] == len(before) < len(tokenizer)
    for sample in load(micro, "eval/depth_open.json"):
        question = sample["conversations"][0]["value"].removeprefix("<image>\n<depth>\n")
        for text in (question, sample["answer"]):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert tokenizer.unk_token_id not in ids
        assert tokenizer.decode(tokenizer(sample["answer"], add_special_tokens=False)["input_ids"]) == \
            sample["answer"]


@pytest.mark.slow
def test_depth_is_deterministic_across_processes_and_follows_the_seed(micro, tmp_path):
    again = tmp_path / "again"
    command = [sys.executable, "-m", "mmbind", "data", "synth", str(again), "--size", "micro", "--seed", "0"]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "random"})
    first, second = tree_hashes(micro), tree_hashes(again)
    depth_files = [p for p in first if "depth" in p]
    assert len(depth_files) > 22
    assert {p: second.get(p) for p in depth_files} == {p: first[p] for p in depth_files}
    generate_dataset(tmp_path / "other", seed=1, size="micro")
    other = tree_hashes(tmp_path / "other")
    assert all(other[p] != first[p] for p in NEW_FILES)
