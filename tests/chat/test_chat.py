"""`mmbind chat` on a fake run (tiny random model, toy tokenizer): one-shot streaming, a scripted multi-turn
session from stdin, the conversation history in the prompt, template choice, and unreadable media."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import torch

import mmbind
from mmbind.chat import ChatSession, ConsoleStreamer
from mmbind.cli.main import main
from mmbind.errors import CheckpointError
from mmbind.inference import Generator, Query, default_template
from tests.support.synth import tiny_model


class Collect(ConsoleStreamer):
    """Keeps every piece of streamed text."""

    def __init__(self, tokenizer) -> None:
        super().__init__(tokenizer, io.StringIO())
        self.pieces: list[str] = []

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        self.pieces.append(text)
        super().on_finalized_text(text, stream_end)


def test_streamed_answer_is_the_greedy_answer(generator, micro):
    image = micro / "eval" / "images" / "00000.png"
    session = ChatSession(generator, "image", image, max_new_tokens=8)
    streamer = Collect(generator.tokenizer)
    answer = session.ask("What colour is the circle?", streamer)
    assert answer and answer == generator.answer([Query("What colour is the circle?", "image", image)], 8)[0]
    assert len([p for p in streamer.pieces if p]) > 1  # arrived in several pieces
    assert streamer.out.getvalue() == answer + "\n"


def test_streamer_prints_exactly_the_decoded_text(micro):
    from transformers import AutoTokenizer, TextStreamer

    tokenizer = AutoTokenizer.from_pretrained(micro / "tokenizer")
    words = "1 ' square is red . yes , the user ' s".split()
    ids = [tokenizer.convert_tokens_to_ids(w) for w in words] + [tokenizer.eos_token_id]
    expected = tokenizer.decode(ids, skip_special_tokens=True)
    assert expected == "1'square is red. yes, the user's"  # clean-up joins punctuation
    for streamer_class in (ConsoleStreamer, TextStreamer):
        streamer = Collect(tokenizer) if streamer_class is ConsoleStreamer else TextStreamer(
            tokenizer, skip_prompt=True, skip_special_tokens=True)
        pieces = []
        streamer.on_finalized_text = lambda text, stream_end=False, sink=pieces: sink.append(text)  # type: ignore[method-assign]
        # the (empty) prompt of an inputs_embeds generation
        streamer.put(torch.tensor([[]], dtype=torch.long))
        for token in ids:
            streamer.put(torch.tensor([token]))
        streamer.end()
        if streamer_class is ConsoleStreamer:
            assert "".join(pieces) == expected and len([p for p in pieces if p]) > 3
        else:  # transformers' own streamer prints "1 " before clean-up removes that space, then loses the "'"
            assert "".join(pieces) != expected


def test_history_is_in_the_next_prompt(generator, micro):
    session = ChatSession(generator, "video", micro / "eval" / "videos" / "00001.mp4", max_new_tokens=3)
    first = session.ask("What moves?")
    session.ask("Which way?")
    assert session.history[0] == ("What moves?", first)
    prompt = generator.prompt(Query("And then?", "video", session.media, tuple(session.history)))
    assert prompt.startswith("A chat between a curious user and an artificial intelligence assistant.")
    assert f" USER: <video>\nWhat moves? ASSISTANT: {first}</s>USER: Which way? ASSISTANT: " in prompt
    assert prompt.endswith("</s>USER: And then? ASSISTANT:") and prompt.count("<video>") == 1


def test_one_shot_cli(run, micro, generator, capsys):
    image = micro / "eval" / "images" / "00002.jpg"
    assert main(["chat", str(run), "--image", str(image), "--prompt", "How many objects are there?",
                 "--max-new-tokens", "6"]) == 0
    out = capsys.readouterr().out
    expected = generator.answer([Query("How many objects are there?", "image", image)], 6)[0]
    assert out == expected + "\n"


def test_scripted_multi_turn_session(run, micro, generator, capsys, monkeypatch):
    video = micro / "eval" / "videos" / "00000.mp4"
    monkeypatch.setattr(sys, "stdin", io.StringIO("What is moving?\n\nWhich way?\n/reset\nWhat is moving?\n"))
    # ends at end of input
    assert main(["chat", str(run), "--video", str(video), "--max-new-tokens", "5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (f"chatting with {run / 'stages' / 'finetune'} about {video} (vicuna_v1); "
                        "'exit' or Ctrl-D ends, '/reset' forgets earlier rounds")
    # blank: skipped
    assert lines[1] == "USER: What is moving?" and lines[3:5] == ["USER: ", "USER: Which way?"]
    assert lines[6:8] == ["USER: /reset", "(history cleared)"] and lines[8] == "USER: What is moving?"
    answers = [lines[2], lines[5], lines[9]]
    assert all(a.startswith("ASSISTANT: ") for a in answers) and lines[10:] == ["USER: "]
    session = ChatSession(generator, "video", video, 5)
    expected = [session.ask("What is moving?"), session.ask("Which way?")]
    session.reset()
    expected.append(session.ask("What is moving?"))
    assert [a.removeprefix("ASSISTANT: ") for a in answers] == expected
    assert expected[2] == expected[0]  # /reset really forgot the rounds


def test_exit_word_and_converted_models_use_llava_v1(micro, tmp_path, capsys, monkeypatch):
    model = tiny_model(micro)
    model.config.extra = {"converted_from": "hf_video_llava"}
    model.save_pretrained(tmp_path / "converted")
    assert default_template(mmbind.load_pretrained(tmp_path / "converted")).name == "llava_v1"
    assert default_template(model.__class__.from_pretrained(tmp_path / "converted")).system.startswith(
        "A chat between a curious human")
    monkeypatch.setattr(sys, "stdin", io.StringIO("exit\nnever asked\n"))
    assert main(["chat", str(tmp_path / "converted")]) == 0
    out = capsys.readouterr().out
    assert "(llava_v1)" in out and out.endswith("USER: exit\n") and "ASSISTANT" not in out


def test_unreadable_media_and_missing_tokenizer(run, micro, tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    code = main(["chat", str(run), "--video", str(broken), "--prompt", "hi"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 1 and err.startswith(f"error: cannot open video {broken}:")
    code = main(["chat", str(run), "--image", str(tmp_path / "nope.png"), "--prompt", "hi"])
    assert code == 1 and (" ".join(capsys.readouterr().err.split())
                          == f"error: image file not found: {tmp_path / 'nope.png'}")
    bare = mmbind.build_model(
        mmbind.load_recipe(Path(__file__).parents[2] / "mmbind" / "recipes" / "tiny" / "video_llava.yaml")
    )
    with pytest.raises(CheckpointError, match="the model has no tokenizer"):
        Generator(bare)
