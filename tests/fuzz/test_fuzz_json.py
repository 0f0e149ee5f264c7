"""The JSON door under hostile input: `parse_json` / `read_json` / `read_json_lines`, and every reader of
user JSON behind it (dataset files and their samples, `mmbind infer` input lines, benchmark question
files) either returns or raises its typed error naming the file -- never ``RecursionError``, the 4300-digit
``ValueError``, ``KeyError`` or ``UnicodeEncodeError``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmbind.errors import DataError
from mmbind.infer import read_rows
from mmbind.interfaces.benchmark_helpers import read_entries
from mmbind.json_file import MAX_DEPTH, MAX_INT_DIGITS, NotJson, parse_json, read_json, read_json_lines
from tests.support.fuzz import PROFILE, broken_bytes, deep_json, hostile_text, hostile_values, values

FUZZ = settings.get_profile(PROFILE)


def depth(value: object) -> int:
    """Nesting depth, measured without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (list, dict)):
            deepest = max(deepest, level + 1)
            stack += [(child, level + 1) for child in (node.values() if isinstance(node, dict) else node)]
    return deepest


@FUZZ
@given(text=hostile_text() | st.text(max_size=60) | values.map(json.dumps))
def test_parse_json_returns_a_bounded_value_or_refuses(text):
    try:
        value = parse_json(text)
    except NotJson as exc:
        assert exc.reason and str(exc)
        return
    assert depth(value) <= MAX_DEPTH
    assert not any(isinstance(v, int) and len(str(abs(v))) > MAX_INT_DIGITS for v in [value])


@pytest.mark.parametrize("text, reason", [
    ("[" * 3000 + "]" * 3000, r"nested more than 64 levels deep, line 1, column 65"),
    ("[" * 70 + "]" * 70, r"nested more than 64 levels deep at \[0\]"),
    ('{"n": ' + "1" * 5000 + "}", r"an integer of 5000 digits \(at most 100\)"),
    ("[NaN]", r"NaN is not a JSON value"),
])
def test_the_refusal_says_why_and_where(tmp_path, text, reason):
    (tmp_path / "d.json").write_text(text)
    with pytest.raises(DataError, match=r"d\.json: not valid JSON \(" + reason):
        read_json(tmp_path / "d.json", DataError)
    (tmp_path / "d.jsonl").write_text('{"ok": 1}\n' + text + "\n")
    with pytest.raises(DataError, match=r"d\.jsonl: not valid JSON \(line 2: "):
        read_json_lines(tmp_path / "d.jsonl", DataError)


@FUZZ
@given(text=hostile_text('[{"id": 1, "image": "a.png", "conversations": {}}]')
       | hostile_text('[{"id": {}, "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", '
                      '"value": "yo"}]}]')
       | hostile_text('[{"id": 2, "conversations": [{"from": "human", "value": {}}, {"from": "gpt", '
                      '"value": "x"}]}]'),
       jsonl=st.booleans())
def test_dataset_files_load_or_refuse_and_samples_are_skipped_with_a_reason(tmp_path_factory, text, jsonl):
    from mmbind.data.records import parse_record, read_source

    folder = tmp_path_factory.mktemp("data")
    path = folder / ("d.jsonl" if jsonl else "d.json")
    path.write_text(text[1:-1] if jsonl else text, encoding="utf-8")
    try:
        source = read_source(str(path), media_keys=["image"])
    except DataError as exc:
        assert str(path) in str(exc)
        return
    for index in range(len(source.samples)):
        try:
            parse_record(source, index)
        except DataError as exc:  # the loader skips and counts such a sample
            assert str(exc)


@FUZZ
@given(lines=st.lists(hostile_text('{"id": "q", "question": {}}')
                      | hostile_text('{"id": {}, "question": "a"}') | hostile_text() | st.text(max_size=20),
                      min_size=1, max_size=5))
def test_infer_input_lines_are_read_or_reported(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("infer") / "q.jsonl"
    path.write_text("\n".join(line.replace("\n", " ") for line in lines) + "\n", encoding="utf-8",
                    errors="surrogatepass")
    rows, bad = read_rows(path)
    for row in rows:
        row.id.encode("utf-8")  # shown and written later
    for row in bad:
        assert row.reason and row.id


@FUZZ
@given(text=hostile_text('[{"question_id": 1, "text": {}, "answer": "a"}]')
       | hostile_text('{"question_id": 1, "text": "q", "answer": {}}')
       | hostile_text('{"1": {"question": {}, "answer": "b"}}') | values.map(json.dumps),
       raw=broken_bytes)
def test_benchmark_question_files_load_or_name_the_file(tmp_path_factory, text, raw):
    from mmbind.eval.catalog import load_benchmark

    folder = tmp_path_factory.mktemp("bench")
    for name, content in (("questions.jsonl", text.encode("utf-8", "surrogatepass")), ("raw.json", raw)):
        path = folder / name
        path.write_bytes(content)
        try:
            read_entries(path)
        except DataError as exc:
            assert str(path) in str(exc)
    try:
        eval_set = load_benchmark("llava_qa", folder, {"kind": "open"})
    except DataError as exc:
        assert "questions.jsonl" in str(exc)
    else:
        for item in eval_set.items:
            (item.question + item.answer + item.id).encode("utf-8")


@FUZZ
@given(value=deep_json | hostile_values)
def test_parse_json_accepts_bytes_and_str_alike(value):
    try:
        assert parse_json(value.encode()) == parse_json(value)
    except NotJson as exc:
        with pytest.raises(NotJson, match=exc.reason.split(" ")[0]):
            parse_json(value)


def test_a_large_flat_file_is_still_read(tmp_path: Path):
    rows = [{"id": i, "conversations": [{"from": "human", "value": "x" * 50}] * 2} for i in range(20000)]
    (tmp_path / "big.json").write_text(json.dumps(rows))
    assert len(read_json(tmp_path / "big.json", DataError)) == 20000


@FUZZ
@given(text=hostile_text('[{"id": "p", "image": "a.png", "conversations": [{"from": "human", "value": '
                         '"<image>\\nq"}], "chosen": {}, "rejected": "no"}]')
       | hostile_text('[{"id": "p", "conversations": {}, "chosen": {"from": "gpt", "value": "a"}, '
                      '"rejected": {"from": "gpt", "value": "b"}}]')
       | hostile_text('[{"id": {}, "videos": ["v.mp4"], "conversations": [{"from": "human", "value": "q"}], '
                      '"chosen": "a", "rejected": "b"}]'))
def test_preference_pairs_load_or_are_skipped_with_a_reason(tmp_path_factory, text):
    from mmbind.data.preferences import parse_preference
    from mmbind.data.records import read_source

    path = tmp_path_factory.mktemp("pairs") / "pairs.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        source = read_source(str(path), media_keys=["image", "video"])
    except DataError as exc:
        assert str(path) in str(exc)
        return
    for index in range(len(source.samples)):
        try:
            chosen, rejected = parse_preference(source, index)
        except DataError as exc:  # the loader skips and reports such a pair by id
            assert str(path) in str(exc)
        else:
            assert chosen.turns[:-1] == rejected.turns[:-1] and chosen.turns[-1] != rejected.turns[-1]
