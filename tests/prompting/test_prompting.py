"""mmbind.prompting: the original's llava_v1 / vicuna_v1 prompt strings, and `tokenize_prompt` against an
independent re-implementation of the original's ``tokenizer_image_token`` on a Llama-style tokenizer."""

from __future__ import annotations

import pytest

from mmbind import InputError
from mmbind.prompting import LLAVA_V1, VICUNA_V1, get_template, tokenize_prompt
from mmbind.prompting.templates import VICUNA_SYSTEM
from tests.support.videollava_tiny import IMAGE_TOKEN_INDEX, llama_tokenizer, original_tokenizer_image_token

LLAVA_SYSTEM = (
    "A chat between a curious human and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the human's questions."
)
IDS = {"image": 160, "video": 161}  # placeholders past the vocabulary, as a converted model has them
FRAMES = 8


@pytest.fixture(scope="module")
def tokenizer():
    return llama_tokenizer()


def collapse_frames(ids: list[int], frames: int, video_id: int) -> list[int]:
    """The original's ids with each run of ``frames`` frame placeholders (-200) as ONE video placeholder."""
    out: list[int] = []
    i = 0
    while i < len(ids):
        if ids[i : i + frames] == [IMAGE_TOKEN_INDEX] * frames:
            out.append(video_id)
            i += frames
        else:
            out.append(ids[i])
            i += 1
    return out


def test_llava_v1_video_prompt_is_the_original_string() -> None:
    prompt = LLAVA_V1.prompt("What is happening in the video?", media=["video"])
    assert prompt == LLAVA_SYSTEM + " USER: <video>\nWhat is happening in the video? ASSISTANT:"
    assert get_template("llava_v1") is LLAVA_V1


def test_vicuna_v1_reuses_the_training_system_text_and_renders_rounds() -> None:
    assert VICUNA_V1.system == VICUNA_SYSTEM and "curious user" in VICUNA_SYSTEM
    prompt = VICUNA_V1.prompt("Why?", media=["image"], history=[("Describe the image.", "A dog runs.")])
    assert prompt == (
        VICUNA_SYSTEM + " USER: <image>\nDescribe the image. ASSISTANT: A dog runs.</s>USER: Why? ASSISTANT:"
    )


def test_render_follows_separator_style_two() -> None:
    text = LLAVA_V1.render([("USER", "q1"), ("ASSISTANT", "a1"), ("USER", "q2"), ("ASSISTANT", None)])
    assert text == LLAVA_SYSTEM + " USER: q1 ASSISTANT: a1</s>USER: q2 ASSISTANT:"


def test_unknown_template_is_an_input_error() -> None:
    message = r"unknown conversation template 'llava_v2' \(known: llava_v1, vicuna_v1\)"
    with pytest.raises(InputError, match=message):
        get_template("llava_v2")


def test_image_prompt_matches_tokenizer_image_token(tokenizer) -> None:
    prompt = LLAVA_V1.prompt("Describe the image in detail.", media=["image"])
    ours = tokenize_prompt(tokenizer, prompt, IDS)
    original = original_tokenizer_image_token(prompt, tokenizer)
    assert ours == [IDS["image"] if t == IMAGE_TOKEN_INDEX else t for t in original]
    assert ours[0] == tokenizer.bos_token_id and ours.count(tokenizer.bos_token_id) == 1
    assert ours.count(IDS["image"]) == 1


def test_video_is_the_originals_frame_tags_as_one_placeholder(tokenizer) -> None:
    question = "What is happening in the video?"
    ours = tokenize_prompt(tokenizer, LLAVA_V1.prompt(question, media=["video"]), IDS)
    frames_prompt = LLAVA_V1.prompt(question).replace("USER: ", "USER: " + "<image>" * FRAMES + "\n", 1)
    original = original_tokenizer_image_token(frames_prompt, tokenizer)
    assert original.count(IMAGE_TOKEN_INDEX) == FRAMES
    assert ours == collapse_frames(original, FRAMES, IDS["video"])


def test_chunks_are_tokenized_separately_not_in_one_pass(tokenizer) -> None:
    """The chunk after a tag gets the tokenizer's prefix space (the original's ids), which one-pass
    tokenization of the same text with the tags as special tokens does not give."""
    tokenizer = llama_tokenizer()
    tokenizer.add_tokens(["<image>", "<video>"], special_tokens=True)
    ids = {m: tokenizer.convert_tokens_to_ids(f"<{m}>") for m in ("image", "video")}
    prompt = LLAVA_V1.prompt("What is happening in the video?", media=["video"])
    ours = tokenize_prompt(tokenizer, prompt, ids)
    one_pass = tokenizer(prompt).input_ids
    after = ours.index(ids["video"]) + 1
    assert tokenizer.convert_ids_to_tokens(ours[after]).startswith("▁")
    assert ours != one_pass and ours[:after] == one_pass[:after]


def test_several_items_mixed_and_adjacent(tokenizer) -> None:
    prompt = "<video><image>\nCompare the two pictures.<image> Why? ASSISTANT:"
    ours = tokenize_prompt(tokenizer, prompt, IDS)
    original = original_tokenizer_image_token(prompt.replace("<video>", "<image>" * FRAMES), tokenizer)
    expected = collapse_frames(original, FRAMES, IDS["video"])
    assert ours == [IDS["image"] if t == IMAGE_TOKEN_INDEX else t for t in expected]
    assert ours[:3] == [tokenizer.bos_token_id, IDS["video"], IDS["image"]]
    assert ours.count(IDS["image"]) == 2 and ours.count(tokenizer.bos_token_id) == 1


def test_text_only_and_a_tokenizer_without_bos(tokenizer) -> None:
    assert tokenize_prompt(tokenizer, "USER: Why?", IDS) == tokenizer("USER: Why?").input_ids
    plain = llama_tokenizer()
    plain.backend_tokenizer.post_processor = None  # no BOS: nothing is dropped from later chunks
    prompt = "USER: <image>\nWhy?"
    ours = tokenize_prompt(plain, prompt, IDS)
    original = original_tokenizer_image_token(prompt, plain)
    assert ours == [IDS["image"] if t == IMAGE_TOKEN_INDEX else t for t in original]
    assert plain.bos_token_id not in ours
