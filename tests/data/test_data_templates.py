"""Conversation templates, exact label masks (Eq. 3), tokenisation checks and truncation after expansion."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer

from mmbind.data.records import Record, SourceFile, parse_record
from mmbind.data.toy_tokenizer import build_tokenizer
from mmbind.errors import DataError
from mmbind.prompting import (
    IGNORE_INDEX,
    VICUNA_SYSTEM,
    ConversationTokenizer,
    Segment,
    render,
    tokenize_prompt,
    truncate,
)

TEXTS = [VICUNA_SYSTEM, "USER: ASSISTANT:",
         "What colour is the shape? It is red. What shape is it? It is a square.",
         "a red square moves left", "Describe the clip. A square slides."] * 5
QA = Record("qa", {"image": (Path("a.png"),)}, (
    ("human", "<image>\nWhat colour is the shape?"), ("gpt", "It is red."),
    ("human", "What shape is it?"), ("gpt", "It is a square."),
))
CAPTION = Record("cap", {"video": (Path("v.mp4"),)},
                 (("human", "<video>"), ("gpt", "a red square moves left")))


@pytest.fixture(scope="module", params=["wordlevel", "metaspace", "bytelevel"])
def tok(request, tmp_path_factory):
    directory = build_tokenizer(TEXTS, tmp_path_factory.mktemp(request.param), request.param, vocab_size=1000)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    tokenizer.add_tokens(["<image>", "<video>"], special_tokens=True)
    return tokenizer


def _conv(tokenizer) -> ConversationTokenizer:
    ids = {m: tokenizer.convert_tokens_to_ids(f"<{m}>") for m in ("image", "video")}
    return ConversationTokenizer(tokenizer, ids)


def _supervised(tokens) -> list[int]:
    return [i for i, label in zip(tokens.input_ids, tokens.labels) if label != IGNORE_INDEX]


def test_vicuna_v1_supervises_every_answer_and_its_eos_only(tok):
    conv = _conv(tok)
    tokens = conv.encode(render(QA, "vicuna_v1", ("image", "video")), "qa")
    full = tokenize_prompt(tok, VICUNA_SYSTEM + " USER: <image>\nWhat colour is the shape? "
                           "ASSISTANT: It is red.</s>"
                           "USER: What shape is it? ASSISTANT: It is a square.</s>", conv.placeholder_ids)
    assert tokens.input_ids == full  # pieces reproduce the prompt tokenised as at inference, exactly
    assert tok.decode(_supervised(tokens)).replace(" ", "") == "Itisred.</s>Itisasquare.</s>"
    eos = [i for i, t in enumerate(tokens.input_ids) if t == tok.eos_token_id]
    assert [tokens.labels[i] for i in eos] == [tok.eos_token_id] * 2  # each round's eos is supervised
    image = tokens.input_ids.index(tok.convert_tokens_to_ids("<image>"))
    first_answer = tokens.labels.index(next(label for label in tokens.labels if label != IGNORE_INDEX))
    assert tokens.labels[:first_answer] == [IGNORE_INDEX] * first_answer  # system, instruction, media masked
    assert image < first_answer and tokens.media == ["image"] and tokens.media_positions == [image]
    second_question = tok("What shape is it?", add_special_tokens=False)["input_ids"]
    start = eos[0] + 1
    assert tokens.labels[start:start + len(second_question)] == [IGNORE_INDEX] * len(second_question)


def test_plain_supervises_caption_and_eos_after_the_media(tok):
    conv = _conv(tok)
    tokens = conv.encode(render(CAPTION, "plain", ("image", "video")), "cap")
    assert tokens.input_ids == tokenize_prompt(tok, "<video>a red square moves left</s>",
                                               conv.placeholder_ids)
    assert tokens.input_ids[:2] == [tok.bos_token_id, tok.convert_tokens_to_ids("<video>")]
    assert tokens.labels[:2] == [IGNORE_INDEX, IGNORE_INDEX]
    assert tokens.input_ids[2:] == tokens.labels[2:]
    assert tok.decode(_supervised(tokens)).replace(" ", "") == "aredsquaremovesleft</s>"


def test_a_tokenisation_mismatch_is_an_error_not_a_masked_sample(tok):
    conv = _conv(tok)
    # "square" split across two segments: its pieces differ from the one-pass tokens of "square"
    segments = [Segment("It is a"), Segment(" squ"), Segment("are.", supervised=True)]
    with pytest.raises(DataError, match=r"sample bad: tokenization mismatch at token \d+"):
        conv.encode(segments, "bad")


def test_media_tags_must_match_the_files():
    record = Record("x", {"image": (Path("a.png"), Path("b.png"))}, (("human", "<image>\nQ"), ("gpt", "A")))
    with pytest.raises(DataError,
                       match=r"sample x: 1 <image> tag\(s\) in the conversation but 2 image file\(s\)"):
        render(record, "vicuna_v1", ("image", "video"))


def test_missing_tags_are_prepended_in_the_samples_order():
    turns = (("human", "Q"), ("gpt", "A"))
    record = Record("y", {"video": (Path("v.mp4"),), "image": (Path("a.png"),)}, turns)
    segments = render(record, "vicuna_v1", ("image", "video"))
    assert [s.modality for s in segments if s.modality] == ["video", "image"]
    assert segments[0].text == VICUNA_SYSTEM + " USER: "
    record = Record("z", {"depth": (Path("d.png"),), "image": (Path("a.png"),)}, turns)
    segments = render(record, "vicuna_v1", ("image", "depth"))
    assert [s.modality for s in segments if s.modality] == ["depth", "image"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([1, 2], r"expected an object, got list"),
        ({"id": "m", "conversations": []}, r"sample m: 'conversations' must be a non-empty list"),
        ({"id": "m", "conversations": [{"from": "gpt", "value": "A"}, {"from": "human", "value": "Q"}]},
         r"conversations\[0\] is from gpt, expected human"),
        ({"id": "m", "conversations": [{"from": "human", "value": "Q"}]}, r"ends with a human turn"),
        ({"id": "m", "conversations": [{"from": "bot", "value": "Q"}]}, r"unknown speaker 'bot'"),
        ({"id": "m", "image": 3, "conversations": [{"from": "human", "value": "Q"}]},
         r"image: expected a path or a list of paths, got 3"),
    ],
)
def test_malformed_samples_name_the_problem(raw, message):
    source = SourceFile(Path("d.json"), [raw], {}, ("image", "video"))
    with pytest.raises(DataError, match=message):
        parse_record(source, 0)


def _tokens(media_len: int, text_before: int, text_after: int):
    from mmbind.prompting.tokenize import Tokenized

    ids = list(range(10, 10 + text_before)) + [99] + list(range(50, 50 + text_after))
    labels = [IGNORE_INDEX] * (text_before + 1) + ids[text_before + 1:]
    return Tokenized(ids, labels, ["video"], [text_before]), {"video": media_len}


def test_truncation_counts_expanded_media_and_cuts_text_only():
    tokens, lengths = _tokens(media_len=40, text_before=3, text_after=20)
    assert len(tokens.input_ids) == 24  # 24 ids, but 63 tokens once the video expands
    out = truncate(tokens, lengths, max_length=50, sample="t")
    assert out.truncated and out.expanded_length == 50
    assert out.input_ids == tokens.input_ids[:11]  # 3 text + 40 video + 7 text
    assert out.media == ["video"]
    untouched = truncate(tokens, lengths, max_length=63, sample="t")
    assert not untouched.truncated and untouched.expanded_length == 63


def test_truncation_never_cuts_a_media_block_and_drops_oversized_media():
    tokens, lengths = _tokens(media_len=40, text_before=3, text_after=5)
    with pytest.raises(DataError,
                       match="sample t: its media alone expand to 40 tokens, more than max_length 30"):
        truncate(tokens, lengths, max_length=30, sample="t")
    tokens, lengths = _tokens(media_len=40, text_before=30, text_after=5)
    with pytest.raises(DataError, match="no supervised token left after truncation to max_length 45"):
        truncate(tokens, lengths, max_length=45, sample="t")  # the block would not fit whole: cut before it
