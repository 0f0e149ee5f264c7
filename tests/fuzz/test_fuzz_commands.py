"""Commands in this process (`mmbind.cli.main.main`) under hostile input and failing writes: `mmbind infer`
over hostile lines (a million-character question, lone surrogates, huge integers, deep nesting) answers
the good rows and reports the others by id; `mmbind eval --benchmark` on a hostile question file exits 1
naming the file; an output that cannot be written (a path under a file, a name too long, a full disk) is
one line naming the path and the reason, and nothing outside the output is touched."""

from __future__ import annotations

import errno
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.fuzz import PROFILE, hostile_text
from tests.support.helpers import cli
from tests.support.synth import tree_hashes

FUZZ = settings(settings.get_profile(PROFILE), max_examples=4)  # each example loads the model


@FUZZ
@given(lines=st.lists(hostile_text('{"id": "h", "question": {}}')
                      | hostile_text('{"id": {}, "question": "q"}'), min_size=1, max_size=3))
def test_infer_answers_good_rows_and_reports_hostile_ones(run, tmp_path_factory, capsys, lines):
    folder = tmp_path_factory.mktemp("infer")
    rows = [json.dumps({"id": "good", "question": "Say hello."}),
            json.dumps({"id": "long", "question": "word " * 200_000}),
            json.dumps({"id": "surrogate", "question": "bad \udc80"}), *lines]
    (folder / "q.jsonl").write_text("\n".join(r.replace("\n", " ") for r in rows) + "\n", encoding="utf-8",
                                    errors="surrogatepass")
    before = tree_hashes(folder)
    code, out, err = cli(capsys, "infer", run, "-i", folder / "q.jsonl", "-o", folder / "a.jsonl",
                         "--max-new-tokens", "2")
    assert code == 0 and "Traceback" not in err
    assert "skipped long: the question: the prompt is" in err and "model's context of 512 tokens" in err
    assert "skipped surrogate: the question: text is not valid Unicode" in err
    answered = [json.loads(line)["id"] for line in (folder / "a.jsonl").read_text().splitlines()]
    assert "good" in answered and "long" not in answered and "surrogate" not in answered
    assert {k: v for k, v in tree_hashes(folder).items() if k != "a.jsonl"} == before


@FUZZ
@given(text=hostile_text('{"question_id": 1, "text": {}, "answer": "a"}')
       | hostile_text('{"question_id": 1, "text": "q", "answer": {}}'))
def test_eval_benchmark_on_a_hostile_question_file_exits_1_or_runs(run, tmp_path_factory, capsys, text):
    folder = tmp_path_factory.mktemp("bench")
    (folder / "questions.jsonl").write_text(text.replace("\n", " ") + "\n", encoding="utf-8",
                                            errors="surrogatepass")
    code, out, err = cli(capsys, "eval", run, "--benchmark", "llava_qa", "--data", folder, "--bench-option",
                         "kind=open", "--output", folder / "out", "--max-new-tokens", "2")
    assert "Traceback" not in err
    assert code == 0 or (code == 1 and "questions.jsonl" in err), err  # a DataError


def test_an_impossible_output_is_one_line(run, tmp_path, capsys):
    (tmp_path / "q.jsonl").write_text('{"id": 1, "question": "hi"}\n')
    (tmp_path / "file").write_text("")
    long_name = tmp_path / ("x" * 300) / "a.jsonl"
    for output, reason in ((tmp_path / "file" / "a.jsonl", "exists and is not a folder"),
                           (long_name, "name too long")):
        code, out, err = cli(capsys, "infer", run, "-i", tmp_path / "q.jsonl", "-o", output)
        assert code in (1, 2) and reason in err and "Traceback" not in err, err


def test_a_full_disk_while_writing_answers_is_one_write_error(run, tmp_path, capsys, monkeypatch):
    (tmp_path / "q.jsonl").write_text('{"id": 1, "question": "hi"}\n')
    real_open = Path.open

    class Full:
        """A file whose writes fail as on a full disk."""

        def __init__(self, path, *args, **kwargs):
            self.inner = real_open(path, *args, **kwargs)

        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.inner.close()

    monkeypatch.setattr(Path, "open", lambda self, *a, **k: Full(self, *a, **k) if self.name == "a.jsonl"
                        else real_open(self, *a, **k))
    code, out, err = cli(capsys, "infer", run, "-i", tmp_path / "q.jsonl", "-o", tmp_path / "a.jsonl",
                         "--max-new-tokens", "2")
    assert code == 1 and f"cannot write {tmp_path / 'a.jsonl'}: no space left on the device (ENOSPC)" in err
    assert "Traceback" not in err


def test_a_full_disk_during_data_synth_leaves_nothing(tmp_path, capsys, monkeypatch):
    from PIL import Image

    calls = {"n": 0}
    real_save = Image.Image.save

    def save(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)
    code, out, err = cli(capsys, "data", "synth", tmp_path / "data", "--size", "micro")
    assert code == 1 and f"cannot write the dataset {tmp_path / 'data'}: no space left" in err, err
    assert list(tmp_path.iterdir()) == []
