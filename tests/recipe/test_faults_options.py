"""Fault suite, options checked when the recipe loads: every ``data.media.<key>`` names an installed media
loader (else the closest keys) and its options validate (fps finite and > 0, min/max frames consistent,
max_frames only with fps), and the sizes of the parts' model configs (widths, depths, head counts) are
positive integers: ``mmbind recipe show`` refuses what ``mmbind train`` would, as one line naming the file and
the field, exit 2."""

from __future__ import annotations

import pytest

from mmbind.cli.main import main
from mmbind.errors import RecipeError
from mmbind.recipe import load_recipe

VIDEO = "data.media.video"
LLM = "model.llm.options.config"
CASES = {  # id -> (recipe, override, expected message)
    "fps-zero": ("tiny/train", f"{VIDEO}.fps=0", f"{VIDEO}.fps: Input should be greater than 0 (got 0)"),
    "fps-negative": ("tiny/train", f"{VIDEO}.fps=-2.5", f"{VIDEO}.fps: Input should be greater than 0"),
    "fps-nan": ("tiny/train", f"{VIDEO}.fps=.nan", f"{VIDEO}.fps: Input should be a finite number (got nan)"),
    "fps-inf": ("tiny/train", f"{VIDEO}.fps=.inf", f"{VIDEO}.fps: Input should be a finite number (got inf)"),
    "fps-text": ("tiny/train", f"{VIDEO}.fps=fast", f"{VIDEO}.fps: Input should be a valid number"),
    "max-below-min": ("tiny/train", f"{VIDEO}={{fps: 1, max_frames: 2, min_frames: 3}}",
                      f"{VIDEO}.min_frames: min_frames 3 is above max_frames 2 (got 3)"),
    "min-above-default-max": ("tiny/train", f"{VIDEO}={{fps: 1, min_frames: 100}}",
                              f"{VIDEO}.min_frames: min_frames 100 is above the default max_frames 64"),
    "max-without-fps": ("tiny/train", f"{VIDEO}.max_frames=4",
                        f"{VIDEO}.max_frames: max_frames applies to sampling by rate: set fps too"),
    "min-without-fps": ("tiny/train", f"{VIDEO}.min_frames=4",
                        f"{VIDEO}.min_frames: min_frames applies to sampling by rate: set fps too"),
    "frames-zero": ("tiny/train", f"{VIDEO}.frames=0", f"{VIDEO}.frames: Input should be greater than or "
                                                       "equal"),
    "video-unknown-option": ("tiny/train", f"{VIDEO}.fsp=1", f"{VIDEO}.fsp: Extra inputs are not permitted"),
    "image-max-pixels": ("tiny/train", "data.media.image.max_pixels=-1", "data.media.image.max_pixels: "),
    "audio-nan-seconds": ("tiny/train", "data.media.audio.max_audio_seconds=.nan",
                          "data.media.audio.max_audio_seconds: Input should be a finite number"),
    "unknown-key-close": ("tiny/train", "data.media.vidoe.fps=1",
                          "data.media.vidoe: no media loader reads data key 'vidoe'; did you mean 'video'?"),
    "unknown-key-far": ("tiny/train", "data.media.smell.x=1",
                        "data.media.smell: no media loader reads data key 'smell'; installed loaders: "),
    "llm-negative-width": ("tiny/video_llava", f"{LLM}.hidden_size=-64",
                           f"{LLM}.hidden_size: must be a positive integer (got -64)"),
    "llm-zero-layers": ("tiny/video_llava", f"{LLM}.num_hidden_layers=0",
                        f"{LLM}.num_hidden_layers: must be a positive integer (got 0)"),
    "llm-float-mlp": ("tiny/video_llava", f"{LLM}.intermediate_size=12.5",
                      f"{LLM}.intermediate_size: must be a positive integer (got 12.5)"),
    "llm-bool-heads": ("tiny/video_llava", f"{LLM}.num_attention_heads=true",
                       f"{LLM}.num_attention_heads: must be a positive integer (got True)"),
    "languagebind-negative-width": ("tiny/video_llava", "model.encoders.video.options.config.hidden_size=-32",
                                    "model.encoders.video.options.config.hidden_size: must be a positive "
                                    "integer (got -32)"),
    "clip-vision-zero-patch": ("tiny/hf_video_llava", "model.encoders.image.options.config.patch_size=0",
                               "model.encoders.image.options.config.patch_size: must be a positive integer"),
    "open-clip-nested-width": ("tiny/study_separated_clip",
                               "model.encoders.image.options.config.vision_cfg.width=-5",
                               "model.encoders.image.options.config.vision_cfg.width: must be a positive "
                               "integer (got -5)"),
    "text-encoder-width": ("tiny/study", "stages.align_image.options.text_encoder.config.hidden_size=-32",
                           "options.text_encoder.config: hidden_size: must be a positive integer (got -32)"),
    "logit-scale-nan": ("tiny/study", "stages.align_image.options.logit_scale=.nan",
                        "options.logit_scale: Input should be a finite number"),
    "mae-mlp-ratio": ("tiny/study_separated_mae", "model.encoders.image.options.config.mlp_ratio=-1",
                      "model.encoders.image.options.config.mlp_ratio: must be a positive finite number"),
    "file-weight-inf": ("tiny/train", "data.datasets.pretrain.files=[{path: a.json, weight: .inf}]",
                        "data.datasets.pretrain.files.0.weight: Input should be a finite number"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_options_are_one_recipe_error_naming_the_field(case, capsys):
    recipe, override, expected = CASES[case]
    with pytest.raises(RecipeError) as caught:
        load_recipe(recipe, [override])
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert ".yaml: " in message  # the recipe file first
    assert main(["recipe", "show", recipe, override]) == RecipeError.exit_code == 2
    err = capsys.readouterr().err
    assert expected in " ".join(err.split()) and "Traceback" not in err


def test_recipe_show_refuses_what_train_would(capsys, tmp_path):
    override = f"{VIDEO}.fps=0"
    assert main(["recipe", "show", "tiny/train", override]) == 2
    shown = capsys.readouterr().err
    run = tmp_path / "run"
    assert main(["train", "tiny/train", override, "--output", str(run), "--no-progress"]) == 2
    assert capsys.readouterr().err == shown and not run.exists()


@pytest.mark.parametrize("override", [f"{VIDEO}={{fps: 1.0, max_frames: 32, min_frames: 4}}",
                                      f"{VIDEO}={{fps: 0.5, min_frames: 64}}", f"{VIDEO}.frames=16",
                                      f"{VIDEO}.backend=pyav", "data.media.depth.max_pixels=1000",
                                      f"{LLM}.head_dim=16", f"{LLM}.num_key_value_heads=null"])
def test_good_options_still_load(override):
    load_recipe("tiny/train", [override])
