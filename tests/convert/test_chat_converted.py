"""`mmbind chat` on a converted Video-LLaVA (a tiny random transformers VideoLlava with a word-level
tokenizer, through `mmbind convert hf`): the llava_v1 prompt, and the answer equal to transformers' own greedy
generation from the same prompt with the video placeholder expanded as transformers needs."""

from __future__ import annotations

import torch
from transformers import VideoLlavaForConditionalGeneration

import mmbind
from mmbind.cli.main import main
from mmbind.convert.hf import convert_hf
from mmbind.inference import Generator, Query
from mmbind.prompting import tokenize_prompt
from mmbind.synth.concepts import Scene, Thing
from mmbind.synth.draw import render_video
from mmbind.synth.media_io import write_video
from tests.support.hf_tiny import PAD, save_tiny, tokens_per_item, word_tokenizer


def test_converted_video_llava_chats_like_transformers(tmp_path, capsys):
    hf = save_tiny(tmp_path / "hf")
    word_tokenizer(tmp_path / "hf", prepend_bos=True)
    checkpoint = convert_hf(tmp_path / "hf", tmp_path / "mm")
    video = tmp_path / "clip.mp4"
    write_video(render_video(Scene("video", "grey", (Thing("red", "square", "large", "top", "left"),)),
                             56, 8), video)
    question = "w10 w11 w12"

    assert main(["chat", str(checkpoint), "--video", str(video), "--prompt", question,
                 "--max-new-tokens", "5"]) == 0
    printed = capsys.readouterr().out

    generator = Generator(mmbind.load_pretrained(checkpoint), frames=8)
    assert generator.template.name == "llava_v1"
    prompt = generator.prompt(Query(question, "video", video))
    assert prompt.endswith("questions. USER: <video>\nw10 w11 w12 ASSISTANT:")
    ids = tokenize_prompt(generator.tokenizer, prompt, generator.model.config.placeholder_ids)
    assert ids.count(91) == 1 and ids[0] == 1
    expanded = []
    for token in ids:
        expanded += [token] * (tokens_per_item(hf.config, "video", 8) if token == 91 else 1)
    pixels = generator.pixels("video", video)[None]
    assert isinstance(hf, VideoLlavaForConditionalGeneration) and pixels.shape == (1, 8, 3, 28, 28)
    with torch.no_grad():
        reference = hf.generate(input_ids=torch.tensor([expanded]), pixel_values_videos=pixels,
                                max_new_tokens=5, do_sample=False, eos_token_id=2,
                                pad_token_id=PAD)[0, len(expanded):]
    answer = generator.tokenizer.decode(reference.tolist(), skip_special_tokens=True).strip()
    assert answer and printed == answer + "\n"
