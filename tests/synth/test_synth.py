"""The synthetic benchmark generator: determinism, disjoint splits, LLaVA-format files, eval sets, tokenizer,
and that the training pipeline reads every sample it writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import av
import pytest
from PIL import Image

from mmbind.cli.main import main
from mmbind.data.build import build_stage_data
from mmbind.data.example import BadSample
from mmbind.errors import DataError, OutputFolderError
from mmbind.recipe.training_schema import DataSpec, StageSpec
from mmbind.synth import generate_dataset, read_manifest
from mmbind.synth.concepts import object_classes
from mmbind.synth.evalsets import OPEN_TYPES
from tests.support.synth import make_micro, tiny_model, tree_hashes


def load(root: Path, name: str) -> list[dict]:
    return json.loads((root / name).read_text())


def scenes_by_path(root: Path) -> dict[str, dict]:
    return {s["path"]: s for s in load(root, "scenes.json")}


@pytest.mark.slow
def test_same_seed_same_bytes_other_seed_other_data(micro, tmp_path):
    start = time.perf_counter()
    make_micro(tmp_path / "timed")
    assert time.perf_counter() - start < 5.0  # the micro size's budget
    again = tmp_path / "again"  # another process: other hash seed, fresh encoder state
    command = [sys.executable, "-m", "mmbind", "data", "synth", str(again), "--size", "micro", "--seed", "0"]
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "random"})
    first, second = tree_hashes(micro), tree_hashes(again)
    assert tree_hashes(tmp_path / "timed") == first
    assert first == second and len(first) > 40
    assert any(p.endswith(".mp4") for p in first) and any(p.endswith(".jpg") for p in first)
    listed = {f["path"]: f["sha256"] for f in read_manifest(micro)["files"]}
    assert listed == {p: h for p, h in first.items() if p != "manifest.json"}
    other = tree_hashes(make_micro(tmp_path / "other", seed=1))
    assert other["finetune.json"] != first["finetune.json"]
    assert other["videos/00000.mp4"] != first["videos/00000.mp4"]


def test_media_formats_and_counts(micro):
    manifest = read_manifest(micro)
    counts = manifest["counts"]
    assert ((counts["train_image"], counts["train_video"], counts["eval_image"], counts["eval_video"])
            == (16, 12, 6, 6))
    assert counts["pretrain"] == len(load(micro, "pretrain.json")) == 28
    assert counts["finetune"] == len(load(micro, "finetune.json")) == 28 + counts["text_only"]
    for name, entry in manifest["eval_sets"].items():
        assert len(load(micro, entry["file"])) == entry["samples"] and entry["kind"] == name.split("_")[1]
    formats = Counter()
    for path in sorted((micro / "images").iterdir()) + sorted((micro / "eval" / "images").iterdir()):
        with Image.open(path) as image:
            formats[image.format] += 1
            assert image.size == (32, 32) and image.mode == "RGB"
    assert formats == {"PNG": 15, "JPEG": 7}
    with av.open(str(micro / "videos" / "00000.mp4")) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert stream.codec_context.name == "h264" and (stream.width, stream.height) == (32, 32)
    assert len(frames) == 4


def test_train_and_eval_are_disjoint(micro):
    scenes = load(micro, "scenes.json")
    signatures = [s["signature"] for s in scenes]
    assert len(set(signatures)) == len(signatures)  # no attribute combination twice, so none across splits
    train_paths = {s["path"] for s in scenes if s["split"] == "train"}
    eval_paths = {s["path"] for s in scenes if s["split"] == "eval"}
    assert (all(p.startswith("eval/") for p in eval_paths)
            and not any(p.startswith("eval/") for p in train_paths))
    used = set()
    for name in ("pretrain.json", "finetune.json"):
        used |= {s.get("image") or s.get("video") for s in load(micro, name)} - {None}
    assert used == train_paths
    for entry in read_manifest(micro)["eval_sets"].values():
        paths = {"eval/" + (s.get("image") or s.get("video")) for s in load(micro, entry["file"])}
        assert paths <= eval_paths
    hashes = tree_hashes(micro)
    assert not {hashes[p] for p in train_paths} & {hashes[p] for p in eval_paths}


def test_pretrain_captions(micro):
    scenes = scenes_by_path(micro)
    for sample in load(micro, "pretrain.json"):
        modality = "image" if "image" in sample else "video"
        human, gpt = sample["conversations"]
        assert human["from"] == "human" and human["value"].startswith(f"<{modality}>\n")
        assert human["value"].count("<") == 1 and len(human["value"].split()) >= 4
        scene = scenes[sample[modality]]
        assert gpt["from"] == "gpt" and gpt["value"].endswith(f"on a {scene['background']} background.")
        for thing in scene["things"]:
            assert f"{thing['colour']} {thing['shape']}" in gpt["value"]


def test_finetune_conversations(micro):
    samples = load(micro, "finetune.json")
    text_only = [s for s in samples if "image" not in s and "video" not in s]
    assert len(text_only) == read_manifest(micro)["counts"]["text_only"] > 0
    assert {"image", "video"} <= {k for s in samples for k in ("image", "video") if k in s}
    for sample in samples:
        turns = sample["conversations"]
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2)
        tags = [t["value"].count("<image>") + t["value"].count("<video>") for t in turns]
        if sample in text_only:
            assert sum(tags) == 0
        else:
            assert len(turns) >= 4 and tags[0] == 1 and sum(tags) == 1  # several rounds, the tag first
        assert all(t["value"].strip() for t in turns)


def test_open_questions_match_the_scenes(micro):
    scenes = scenes_by_path(micro)
    for modality in ("image", "video"):
        samples = load(micro / "eval", f"{modality}_open.json")
        assert Counter(s["type"] for s in samples) == {t: 6 for t in OPEN_TYPES[modality]}
        for sample in samples:
            scene = scenes["eval/" + sample[modality]]
            question = sample["conversations"][0]["value"]
            assert sample["answer"] == sample["conversations"][1]["value"]
            if sample["type"] == "count" and "objects" in question:
                assert sample["answer"] == str(len(scene["things"]))
            if sample["type"] == "colour":
                assert sample["answer"] in {t["colour"] for t in scene["things"]}
            if sample["type"] == "motion":
                assert sample["answer"].split()[-1] in (scene["things"][0]["motion"],
                                                        scene["things"][0]["motion"][:-3])


def test_pope_probes_follow_the_three_sampling_strategies(micro):
    scenes = load(micro, "scenes.json")
    for modality in ("image", "video"):
        train = [[f"{t['colour']} {t['shape']}" for t in s["things"]] for s in scenes
                 if s["split"] == "train" and s["modality"] == modality]
        frequency = Counter(c for classes in train for c in classes)
        together = Counter((a, b) for classes in train for a in classes for b in classes if a != b)
        by_path = scenes_by_path(micro)
        probes: dict[tuple[str, str], list[dict]] = {}
        for sample in load(micro / "eval", f"{modality}_pope.json"):
            probes.setdefault((sample[modality], sample["split"]), []).append(sample)
            assert sample["conversations"][0]["value"].startswith(
                f"<{modality}>\nIs there a {sample['object']} in the"
            )
        assert {split for _, split in probes} == {"random", "popular", "adversarial"}
        for (path, split), group in probes.items():
            present = [f"{t['colour']} {t['shape']}" for t in by_path["eval/" + path]["things"]]
            absent = [c for c in object_classes() if c not in present]
            yes = [s["object"] for s in group if s["answer"] == "yes"]
            no = [s["object"] for s in group if s["answer"] == "no"]
            assert len(yes) == len(no) == min(3, len(present))
            assert set(yes) <= set(present) and set(no) <= set(absent)
            if split == "popular":
                assert sorted(frequency[c] for c in no) == sorted(frequency[c] for c in absent)[-len(no):]
            if split == "adversarial":
                score = {c: sum(together[(p, c)] for p in present) for c in absent}
                assert sorted(score[c] for c in no) == sorted(score.values())[-len(no):]


def test_tokenizer_gives_one_known_token_per_answer_word(micro):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(micro / "tokenizer")
    assert read_manifest(micro)["tokenizer"] == {"dir": "tokenizer", "style": "wordlevel",
                                                 "vocab_size": len(tokenizer)}
    answers = {s["answer"] for name in ("image_open", "video_open", "image_pope")
               for s in load(micro / "eval", f"{name}.json")}
    assert {"yes", "no", "moving left", "rotating"} & answers
    for answer in answers:
        ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
        assert len(ids) == len(answer.split()) and tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids) == answer
    assert tokenizer.decode(tokenizer("The red circle is small.", add_special_tokens=False)["input_ids"]) == \
        "The red circle is small."


@pytest.mark.slow
def test_training_pipeline_reads_every_sample(micro):
    model = tiny_model(micro)
    eval_files = [{"path": str(micro / "eval" / f"{n}.json")} for n in ("image_open", "video_pope")]
    data = DataSpec(video_frames=4, datasets={
        "pretrain": {"template": "plain", "files": [{"path": str(micro / "pretrain.json")}]},
        "finetune": {"template": "vicuna_v1", "files": [{"path": str(micro / "finetune.json")}, *eval_files]},
    })
    for stage in ("pretrain", "finetune"):
        dataset, _, _ = build_stage_data(data, stage,
                                         StageSpec(global_batch=4, per_device_batch=4, max_length=512), model)
        samples = [dataset[i] for i in range(len(dataset))]
        assert not [s for s in samples if isinstance(s, BadSample)]
        assert all((s.labels != -100).any() for s in samples)


def test_cli_synth_refuses_foreign_and_non_empty_dirs(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["data", "synth", str(out), "--size", "micro", "--seed", "3"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "eval set video_pope" in text and "tokenizer" in text and "manifest.json" in text
    assert main(["data", "synth", str(out), "--size", "micro"]) == 2
    assert f"{out}: directory is not empty (pass --overwrite to replace a generated dataset)" in \
        capsys.readouterr().err
    before = tree_hashes(out)
    assert main(["data", "synth", str(out), "--size", "micro", "--seed", "3", "--overwrite"]) == 0
    assert tree_hashes(out) == before
    assert main(["data", "synth", str(out), "--size", "micro", "--seed", "3", "--force"]) == 0  # old name
    assert capsys.readouterr().err.strip() == "warning: --force is deprecated; use --overwrite"
    assert tree_hashes(out) == before
    (out / "notes.txt").write_text("mine")
    with pytest.raises(DataError,
                       match=r"holds files the generator did not write \(notes.txt\); not replacing it"):
        generate_dataset(out, size="micro", overwrite=True)
    (out / "notes.txt").unlink()
    (out / "images" / "holiday.jpg").write_bytes(b"a user's photo")  # inside a folder the generator writes
    (out / "finetune_extra.json").write_text("[]")
    with pytest.raises(DataError, match=r"\(finetune_extra.json, images/holiday.jpg\); not replacing it"):
        generate_dataset(out, size="micro", overwrite=True)
    assert (out / "images" / "holiday.jpg").read_bytes() == b"a user's photo" and tree_hashes(out) != before
    (out / "images" / "holiday.jpg").unlink()
    (out / "finetune_extra.json").unlink()
    (out / "manifest.json").unlink()  # no manifest: not a dataset any more, so only replaced whole
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match="it holds other files .*; pass --overwrite to replace it"):
        generate_dataset(out, size="micro", seed=3)
    assert (out / "notes.txt").is_file() and (out / "pretrain.json").is_file()
    with pytest.warns(DeprecationWarning, match="use overwrite"):
        generate_dataset(out, size="micro", seed=3, force=True)
    assert tree_hashes(out) == before  # replaced whole: the user's file is gone with the rest
