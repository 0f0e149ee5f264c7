"""videoqa.py

The Video-ChatGPT zero-shot QA layout that Video-LLaVA's paper evaluates MSVD-QA, MSRVTT-QA, TGIF-QA and
ActivityNet-QA with (``eval/GPT_Zero_Shot_QA/<Set>_Zero_Shot_QA/``)::

    test_q.json   [{"video_name": "vid1", "question": "what is ...?", "question_id": "v_1_0"}, ...]
    test_a.json   [{"answer": "dog", "question_id": "v_1_0"}, ...]
    videos/       vid1.avi | vid1.mp4 | ...   (also all_test/, videos/all/, mp4/, video/)

Variants read too: one question file whose entries carry their ``answer``; ``id`` for ``question_id``;
JSON-lines files; answers matched by id (or by position when neither file has ids, as the paper's
``run_inference_video_qa.py`` does, then the two files must be the same length). ActivityNet's names
may lack the ``v_`` prefix of its files. Media are looked up by name with the suffixes the paper's
scripts try. A malformed entry, a duplicate id or a question without an answer is one `DataError`
naming the file and the first bad entry. Options: ``questions``, ``answers`` (file names), ``videos``
(the folder).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mmbind import BenchmarkEntry, hookimpl
from mmbind.errors import DataError
from mmbind.interfaces.benchmark import EvalItem, EvalSet
from mmbind.interfaces.benchmark_helpers import (
    bad_entry,
    entry_id,
    find_media,
    first_dir,
    options_path,
    read_entries,
    text_field,
)
from mmbind.media import VIDEO_SUFFIXES

QUESTION_FILES = ("test_q.json", "test_q.jsonl", "questions.json", "questions.jsonl")
ANSWER_FILES = ("test_a.json", "test_a.jsonl", "answers.json", "answers.jsonl")
VIDEO_DIRS = ("videos/all", "videos", "all_test", "mp4", "video", "Test_Videos")


def _pick(root: Path, options: Mapping[str, str], key: str, names: tuple[str, ...]) -> Path | None:
    explicit = options_path(options, key, root)
    if explicit is not None:
        if not explicit.is_file():
            raise DataError(f"{explicit}: no such {key} file")
        return explicit
    return next((root / n for n in names if (root / n).is_file()), None)


def _answers(path: Path, entries: list[Any]) -> tuple[dict[str, str], list[str]]:
    """(id -> answer, answers in file order)."""
    by_id: dict[str, str] = {}
    ordered: list[str] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise bad_entry(path, index, entry, "not a JSON object")
        answer = text_field(entry, ("answer", "a", "gt"))
        if answer is None:
            raise bad_entry(path, index, entry, "no 'answer'")
        ident = entry_id(entry)
        if ident is not None:
            if ident in by_id:
                raise bad_entry(path, index, entry, "duplicate question id")
            by_id[ident] = answer
        ordered.append(answer)
    return by_id, ordered


def load_videoqa(data: Path, options: Mapping[str, str], name: str = "videochatgpt_qa") -> EvalSet:
    """The set in ``data`` (a folder in the layout above, or a question file next to its answers)."""
    data = Path(data)
    root = data.parent if data.is_file() else data
    if not root.is_dir():
        raise DataError(f"{data}: no such benchmark folder")
    qfile = data if data.is_file() else _pick(root, options, "questions", QUESTION_FILES)
    if qfile is None:
        raise DataError(f"{root}: no question file ({' / '.join(QUESTION_FILES)}; or --bench-option "
                        "questions=FILE)")
    afile = _pick(root, options, "answers", ANSWER_FILES)
    videos = options_path(options, "videos", root) or first_dir(root, VIDEO_DIRS)
    questions = read_entries(qfile)
    answers_by_id, answers_in_order = _answers(afile, read_entries(afile)) if afile else ({}, [])
    if afile and not answers_by_id and len(answers_in_order) != len(questions):
        raise DataError(f"{afile}: {len(answers_in_order)} answers for {len(questions)} questions in {qfile} "
                        "(without ids they are matched by position)")
    items: list[EvalItem] = []
    seen: set[str] = set()
    for index, entry in enumerate(questions):
        if not isinstance(entry, dict):
            raise bad_entry(qfile, index, entry, "not a JSON object")
        video = text_field(entry, ("video_name", "video", "video_id"))
        question = text_field(entry, ("question", "q", "text"))
        if not video:
            raise bad_entry(qfile, index, entry, "no 'video_name'")
        if not question or not question.strip():
            raise bad_entry(qfile, index, entry, "no 'question'")
        ident = entry_id(entry) or str(index)
        if ident in seen:
            raise bad_entry(qfile, index, entry, "duplicate question id")
        seen.add(ident)
        answer = text_field(entry, ("answer", "a"))
        if answer is None and answers_by_id:
            answer = answers_by_id.get(ident)
            if answer is None:
                raise bad_entry(qfile, index, entry, f"no answer with this id in {afile}")
        elif answer is None and answers_in_order:
            answer = answers_in_order[index]
        if answer is None:
            where = f"in {afile}" if afile else f"(no answer file: {' / '.join(ANSWER_FILES)})"
            raise bad_entry(qfile, index, entry, f"no answer {where}")
        media = find_media(videos, video, VIDEO_SUFFIXES, ("", "v_"))
        items.append(EvalItem(ident, "video", media, question.strip(), answer, name))
    if not items:
        raise DataError(f"{qfile}: no questions")
    return EvalSet(name, "qa", "video", qfile, items)


def videoqa_loader(name: str) -> Callable[[Path, Mapping[str, str]], EvalSet]:
    """A loader that names its set ``name`` (msvd_qa, msrvtt_qa, ...)."""

    def load(data: Path, options: Mapping[str, str]) -> EvalSet:
        return load_videoqa(data, options, name)

    load.__doc__ = f"The {name} set in Video-ChatGPT's zero-shot QA layout."
    return load


@hookimpl
def mmbind_benchmarks() -> list[BenchmarkEntry]:
    layout = "Video-ChatGPT zero-shot QA layout"
    return [
        BenchmarkEntry("msvd_qa", videoqa_loader("msvd_qa"), f"MSVD-QA, {layout}"),
        BenchmarkEntry("msrvtt_qa", videoqa_loader("msrvtt_qa"), f"MSRVTT-QA, {layout}"),
        BenchmarkEntry("tgif_qa", videoqa_loader("tgif_qa"), f"TGIF-QA, {layout}"),
        BenchmarkEntry("activitynet_qa", videoqa_loader("activitynet_qa"), f"ActivityNet-QA, {layout}"),
        BenchmarkEntry("videochatgpt_qa", videoqa_loader("videochatgpt_qa"), f"any set in the {layout}"),
    ]
