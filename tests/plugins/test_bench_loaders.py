"""Benchmark loaders read the published local layouts, tolerate their variants, and name the file and the
first bad entry of a malformed one; the registry suggests close names and takes a plugin's benchmarks."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

import mmbind
from mmbind.errors import DataError, UnknownPluginError
from mmbind.eval.catalog import get_benchmark, load_benchmark
from mmbind.interfaces.benchmark import EvalItem, EvalSet
from mmbind.registry import BenchmarkEntry, load_registry
from mmbind_plugins.benchmarks import videoqa
from tests.support.bench import pope_folder, videoqa_folder


def test_videoqa_split_files(micro, tmp_path):
    folder = videoqa_folder(micro, tmp_path / "msvd", n=5)
    s = load_benchmark("msvd_qa", folder)
    assert (s.name, s.kind, s.modality, len(s.items)) == ("msvd_qa", "qa", "video", 5)
    assert s.items[1].answer == "blue" and s.items[1].media == folder / "videos" / "vid1.mp4"
    assert s.items[1].media.is_file() and s.items[0].id == "q0"


def test_videoqa_inline_answers_and_positional_match(micro, tmp_path):
    folder = videoqa_folder(micro, tmp_path / "tgif", n=3, split=False)
    assert [i.answer for i in load_benchmark("tgif_qa", folder).items] == ["red", "blue", "left"]
    folder2 = videoqa_folder(micro, tmp_path / "pos", n=3)
    for name in ("test_q.json", "test_a.json"):  # no ids at all: matched by position
        entries = json.loads((folder2 / name).read_text())
        (folder2 / name).write_text(json.dumps([{k: v for k, v in e.items() if k != "question_id"}
                                                for e in entries]))
    assert [i.answer for i in load_benchmark("videochatgpt_qa", folder2).items] == ["red", "blue", "left"]


@pytest.mark.parametrize("mutate, expected", [
    (lambda q, a: q.__setitem__(1, {"question": "x?", "question_id": "q1"}),
     r"test_q.json: entry 1 \(id q1\): no 'video_name'"),
    (lambda q, a: q.__setitem__(2, {**q[2], "question_id": "q0"}),
     r"test_q.json: entry 2 \(id q0\): duplicate"),
    (lambda q, a: a.pop(3), r"test_q.json: entry 3 \(id q3\): no answer with this id in .*test_a.json"),
    (lambda q, a: a.__setitem__(0, {"question_id": "q0"}), r"test_a.json: entry 0 \(id q0\): no 'answer'"),
    (lambda q, a: q.__setitem__(0, "oops"), r"test_q.json: entry 0: not a JSON object"),
])
def test_videoqa_malformed(micro, tmp_path, mutate, expected):
    folder = videoqa_folder(micro, tmp_path / "bad", n=4)
    questions = json.loads((folder / "test_q.json").read_text())
    answers = json.loads((folder / "test_a.json").read_text())
    mutate(questions, answers)
    (folder / "test_q.json").write_text(json.dumps(questions))
    (folder / "test_a.json").write_text(json.dumps(answers))
    with pytest.raises(DataError, match=expected):
        load_benchmark("msrvtt_qa", folder)


def test_videoqa_not_json_and_length_mismatch(micro, tmp_path):
    folder = videoqa_folder(micro, tmp_path / "v", n=3)
    (folder / "test_a.json").write_text("[{\"answer\": 1},")
    with pytest.raises(DataError, match=r"test_a.json: not valid JSON"):
        load_benchmark("msvd_qa", folder)
    (folder / "test_a.json").write_text(json.dumps([{"answer": "x"}]))
    for name in ("test_q.json",):
        entries = json.loads((folder / name).read_text())
        (folder / name).write_text(json.dumps([{k: v for k, v in e.items() if k != "question_id"}
                                               for e in entries]))
    with pytest.raises(DataError, match=r"test_a.json: 1 answers for 3 questions"):
        load_benchmark("msvd_qa", folder)


def test_pope_three_splits(micro, tmp_path):
    s = load_benchmark("pope", pope_folder(micro, tmp_path / "pope", per_split=4))
    assert (s.kind, s.modality, len(s.items)) == ("pope", "image", 12)
    assert {i.group for i in s.items} == {"random", "popular", "adversarial"}
    first = s.items[0]
    assert first.answer == "no" and first.media.is_file()
    assert first.question.endswith("\nAnswer the question using a single word or phrase.")


def test_pope_bad_label(micro, tmp_path):
    folder = pope_folder(micro, tmp_path / "pope", per_split=2)
    path = folder / "coco_pope_popular.json"
    lines = path.read_text().splitlines()
    lines[1] = json.dumps({**json.loads(lines[1]), "label": "maybe"})
    path.write_text("\n".join(lines))
    expected = r"coco_pope_popular.json: entry 1 \(id 101\): 'label' must be yes or no"
    with pytest.raises(DataError, match=expected):
        load_benchmark("pope", folder)


def test_llava_question_file(micro, tmp_path):
    image = sorted((micro / "eval" / "images").glob("*.png"))[0]
    video = sorted((micro / "eval" / "videos").glob("*.mp4"))[0]
    rows = [{"question_id": 1, "image": str(image), "text": "What colour?", "category": "colour"},
            {"id": "v", "media": str(video), "question": "Which way?"}]
    (tmp_path / "questions.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
    (tmp_path / "answers.jsonl").write_text(json.dumps({"question_id": 1, "answer": "red"}) + "\n"
                                            + json.dumps({"question_id": "v", "text": "left"}) + "\n")
    s = load_benchmark("llava_qa", tmp_path, {"kind": "open"})
    assert [(i.modality, i.answer, i.group) for i in s.items] == [("image", "red", "colour"),
                                                                  ("video", "left", "all")]
    assert s.kind == "open" and s.modality == "mixed"
    (tmp_path / "answers.jsonl").write_text(json.dumps({"question_id": 1, "answer": "red"}) + "\n")
    with pytest.raises(DataError, match=r"questions.jsonl: entry 1 \(id v\): no answer in .*answers.jsonl"):
        load_benchmark("llava_qa", tmp_path)


def test_unknown_benchmark_suggests():
    registry = load_registry([videoqa])
    with pytest.raises(UnknownPluginError, match=r"unknown benchmark 'msvd'; did you mean 'msvd_qa'"):
        get_benchmark("msvd", registry)


def test_plugin_benchmark(tmp_path):
    def load(data: Path, options: dict[str, str]) -> EvalSet:
        item = EvalItem("1", None, None, "Say yes.", "yes", "all")
        return EvalSet("mine", "open", "text", data, [item])

    plugin = types.ModuleType("my_bench_plugin")

    @mmbind.hookimpl
    def mmbind_benchmarks() -> list[BenchmarkEntry]:
        return [BenchmarkEntry("mine", load, "a third party's")]

    plugin.mmbind_benchmarks = mmbind_benchmarks
    registry = load_registry([plugin])
    assert load_benchmark("mine", tmp_path, registry=registry).items[0].answer == "yes"
    assert "mine" in registry.names("benchmark")


def test_builtin_benchmarks_come_through_entry_points():
    """The core holds no list of benchmarks: mmbind's own are plugins registered like a third party's."""
    registry = load_registry()
    found = {r.name: r.module for r in registry.records if r.kind == "benchmark" and r.status == "ok"}
    builtin = {"msvd_qa", "msrvtt_qa", "tgif_qa", "activitynet_qa", "videochatgpt_qa", "pope", "llava_qa",
               "synth_set"}
    assert builtin <= set(found)
    assert all(found[name].startswith("mmbind_plugins.benchmarks.") for name in builtin)
    assert {"msvd_qa", "pope", "synth_set"} <= set(registry.source_names())  # named after the benchmark
