"""The training tokenizer's memo: a sample encoded again (a later epoch) gives the same ids and labels as
the first time, as fresh lists, without tokenizing again; the memo stops growing at its token limit."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from mmbind.data.records import Record
from mmbind.data.toy_tokenizer import build_tokenizer
from mmbind.prompting import ConversationTokenizer, render
from mmbind.prompting.encode_memo import EncodeMemo

QA = Record("qa", {"image": (Path("a.png"),)},
            (("human", "<image>\nWhat colour is it?"), ("gpt", "It is red.")))


def test_a_second_encoding_comes_from_the_memo(tmp_path, monkeypatch):
    folder = build_tokenizer(["What colour is it? It is red."], tmp_path, "wordlevel")
    tok = AutoTokenizer.from_pretrained(folder)
    tok.add_tokens(["<image>"], special_tokens=True)
    conv = ConversationTokenizer(tok, {"image": tok.convert_tokens_to_ids("<image>")})
    segments = render(QA, "vicuna_v1", ("image",))
    first = conv.encode(segments, "qa")
    monkeypatch.setattr(conv, "_encode", lambda *a: (_ for _ in ()).throw(AssertionError("tokenized again")))
    again = conv.encode(list(segments), "qa")
    assert again == first and again.input_ids is not first.input_ids
    again.input_ids.append(0)  # the caller's to change
    assert conv.encode(segments, "qa") == first


def test_the_memo_stops_at_its_limit():
    memo = EncodeMemo(limit_tokens=5)
    memo.put(("a",), [1, 2, 3], [-100, 2, 3], ["image"], [0])
    memo.put(("b",), [1, 2, 3], [1, 2, 3], [], [])  # 6 > 5 tokens: not kept
    assert memo.get(("a",)) == ([1, 2, 3], [-100, 2, 3], ["image"], [0]) and memo.get(("b",)) is None
    assert memo.tokens == 3
