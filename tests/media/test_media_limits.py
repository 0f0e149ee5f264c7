"""Decoding limits (`mmbind.media.limits`): an image, a video frame, a video's length and an audio file's
duration are bounded before anything is decoded; the error names the file, the size, the limit and the flag;
loaders tell the decoded size from the header; the limits reach every loader from recipes and command-line
flags; training skips and reports a sample over a limit; the transforms that follow decoding stay bounded
without changing a value."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from mmbind.cli.main import main
from mmbind.data.media_readers import media_readers
from mmbind.errors import MediaError, RecipeError
from mmbind.media import FramePolicy, MediaTooLarge, VideoTransform, load_image, open_reader, read_frames
from mmbind.media import image as image_module
from mmbind.media import transforms as transforms_module
from mmbind.media.video import decoded_bytes
from tests.support.media import flat_png, videos, write_wav  # noqa: F401  (fixture)


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Any attempt to decode an image's pixels fails the test."""
    def refuse(self, *args, **kwargs):
        raise AssertionError(f"pixels of {self.size} were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def test_an_image_bomb_is_refused_from_its_header(tmp_path, no_pixel_decoding):
    bomb = flat_png(tmp_path / "bomb.png", 12000, 12000)
    assert bomb.stat().st_size < 500_000
    with pytest.raises(MediaTooLarge) as caught:
        load_image(bomb)
    message = str(caught.value)
    assert str(bomb) in message and "12000 x 12000 = 144,000,000 pixels" in message
    assert "limit of 67,108,864 (max_pixels; raise it with --max-pixels" in message
    assert caught.value.limit == "max_pixels"
    for modality in ("image", "thermal", "depth"):  # every still-image loader, and its size estimate
        reader = media_readers([modality])[modality]
        for read in (reader.decoded_bytes, reader.load):
            with pytest.raises(MediaTooLarge):
                read(bomb)


def test_the_image_limit_is_exact_and_set_by_options(tmp_path):
    path = tmp_path / "small.png"
    Image.new("RGB", (64, 48), (10, 20, 30)).save(path)
    assert load_image(path, max_pixels=64 * 48).size == (64, 48)
    with pytest.raises(MediaTooLarge, match="64 x 48 = 3,072 pixels, over the limit of 3,071"):
        load_image(path, max_pixels=64 * 48 - 1)
    readers = media_readers(["image", "depth"], {"image": {"max_pixels": 3071}}, None, {})
    with pytest.raises(MediaTooLarge):
        readers["image"].load(path)
    grey = tmp_path / "depth.png"
    Image.new("I;16", (64, 48), 1000).save(grey)
    assert readers["depth"].load(grey).shape == (48, 64)  # its own default
    overridden = media_readers(["depth"], None, None, {"max_pixels": 100})  # what --max-pixels sets
    with pytest.raises(MediaTooLarge, match="depth map of 64 x 48"):
        overridden["depth"].load(grey)
    with pytest.raises(RecipeError, match="data.media.image.*max_pixels"):
        media_readers(["image"], {"image": {"max_pixels": 0}})


def test_loaders_tell_the_decoded_size_from_the_header(tmp_path, videos):  # noqa: F811
    image = tmp_path / "a.png"
    Image.new("RGB", (64, 48)).save(image)
    readers = media_readers(["image", "video"], None, None, {"frames": 5})
    assert readers["image"].decoded_bytes(image) == np.asarray(readers["image"].load(image)).nbytes
    clip = videos(20, width=64, height=48)
    assert readers["video"].decoded_bytes(clip) == readers["video"].load(clip).nbytes == 5 * 48 * 64 * 3
    by_rate = FramePolicy(fps=10.0, max_frames=6)  # 20 frames at 30 fps: 7 by rate, capped at 6
    assert decoded_bytes(clip, by_rate) == read_frames(clip, by_rate).nbytes
    with pytest.raises(MediaTooLarge):
        decoded_bytes(clip, 5, max_pixels=64 * 48 - 1)


@pytest.mark.parametrize("backend", ["pyav", "torchcodec", "decord"])
def test_video_frames_and_length_are_bounded_on_open(videos, backend):  # noqa: F811
    clip = videos(12, width=64, height=48)
    try:
        open_reader(clip, backend).close()
    except MediaError as exc:
        if "is not available" in str(exc):
            pytest.skip(str(exc))
        raise
    with pytest.raises(MediaTooLarge, match="video frames of 64 x 48 = 3,072 pixels.*--max-pixels"):
        open_reader(clip, backend, max_pixels=3071)
    with pytest.raises(MediaTooLarge, match="more than 11 frames.*max_video_frames.*--max-video-frames"):
        open_reader(clip, backend, max_frames=11)
    assert read_frames(clip, 4, backend, max_pixels=3072, max_frames=12).shape == (4, 48, 64, 3)


def test_the_video_loader_takes_its_limits_from_options(videos):  # noqa: F811
    clip = videos(12, width=64, height=48)
    readers = media_readers(["video"], {"video": {"max_video_frames": 11}}, None, {"frames": 4})
    with pytest.raises(MediaTooLarge, match="max_video_frames"):
        readers["video"].load(clip)
    readers = media_readers(["video"], {"video": {"fps": 10.0}}, None, {"max_pixels": 3071})
    with pytest.raises(MediaTooLarge, match="max_pixels"):  # counting frames by rate opens the file too
        readers["video"].frames_of(clip)


def test_audio_is_bounded_in_seconds(tmp_path):
    clip = write_wav(tmp_path / "two_seconds.wav", np.zeros((2, 16000), dtype=np.int16), 8000)
    reader = media_readers(["audio"])["audio"]
    waveform, rate = reader.load(clip)
    assert waveform.shape == (2, 16000) and rate == 8000
    assert reader.decoded_bytes(clip) == waveform.numel() * 4
    short = media_readers(["audio"], {"audio": {"max_audio_seconds": 1.5}})["audio"]
    over = r"audio of more than 1.5 s, over the limit of 1.5 \(max_audio_seconds.*--max-audio-seconds"
    with pytest.raises(MediaTooLarge, match=over):
        short.load(clip)
    assert short.decoded_bytes(clip) == int(1.5 * 8000) * 2 * 4  # no more than the limit lets through


def test_the_video_transform_in_frame_groups_gives_the_same_values(monkeypatch):
    frames = np.random.default_rng(0).integers(0, 256, (5, 90, 120, 3), dtype=np.uint8)
    for interpolation in ("bilinear", "bicubic"):
        transform = VideoTransform(size=32, interpolation=interpolation)
        whole = transform(frames)
        monkeypatch.setattr(transforms_module, "_GROUP_BYTES", 2 * 90 * 120 * 3 * 4)  # two frames a group
        grouped = transform(frames)
        monkeypatch.undo()
        assert torch.equal(whole, grouped)


@pytest.mark.parametrize("mode", ["I;16", "I", "F"])
def test_high_depth_images_scale_by_blocks_as_in_one_pass(mode, monkeypatch):
    rng = np.random.default_rng(1)
    values = {"I;16": rng.integers(0, 65536, (37, 23)).astype(np.uint16),
              "I": rng.integers(-500, 90000, (37, 23)).astype(np.int32),
              "F": rng.normal(0, 3, (37, 23)).astype(np.float32)}[mode]
    if mode == "F":
        values[3, 4], values[10, 2] = np.nan, np.inf
    whole = image_module._to_uint8(values, mode)
    monkeypatch.setattr(image_module, "_BLOCK_PIXELS", 50)  # 2 rows a block
    assert np.array_equal(image_module._to_uint8(values, mode), whole)
    data = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)  # the one-pass rule
    low, high = data.min(), data.max()
    scaled = data / 65535.0 if mode == "I;16" else (data - low) / (high - low)
    assert np.array_equal(whole, np.clip(np.rint(scaled * 255.0), 0, 255).astype(np.uint8))


def test_a_training_sample_over_a_limit_is_skipped_and_reported(tmp_path):
    import mmbind
    from mmbind.data import BadSample, build_stage_data
    from tests.support.train import make_data, tiny_train_recipe

    data = make_data(tmp_path / "data", images=2, videos=1, text_only=1)
    recipe = tiny_train_recipe(data, "data.media.image.max_pixels=100")
    model = mmbind.build_model(recipe).eval()
    dataset, _, _ = build_stage_data(recipe.data, "finetune", recipe.stages["finetune"], model)
    items = [dataset[i] for i in range(len(dataset))]
    bad = [item.reason for item in items if isinstance(item, BadSample)]
    images = [s for s in json.loads((data / "finetune.json").read_text()) if "image" in s]
    assert len(bad) == len(images) and all("(max_pixels; raise it with --max-pixels" in r for r in bad)
    assert len(items) - len(bad) == len(json.loads((data / "finetune.json").read_text())) - len(images)


def test_the_flags_refuse_nonsense_before_any_work(capsys):
    with pytest.raises(SystemExit) as usage:
        main(["infer", "nowhere", "-i", "q.jsonl", "-o", "a.jsonl", "--max-pixels", "0"])
    assert usage.value.code == 2
    assert "--max-pixels: expected a positive integer" in capsys.readouterr().err
    assert main(["serve", "nowhere", "--max-decoded-mb", "64", "--decode-budget-mb", "32"]) == 2
    assert "--decode-budget-mb 32 is below --max-decoded-mb 64" in capsys.readouterr().err


@pytest.mark.slow
def test_infer_reports_an_image_over_the_flag_and_answers_the_rest(run, micro, tmp_path, capsys):
    image = sorted((micro / "eval" / "images").glob("*.png"))[0]
    questions, answers = tmp_path / "q.jsonl", tmp_path / "a.jsonl"
    rows = [{"id": "img", "question": "What colour?", "image": str(image)}, {"id": "text", "question": "Hi?"}]
    questions.write_text("\n".join(map(json.dumps, rows)) + "\n")
    assert main(["infer", str(run), "-i", str(questions), "-o", str(answers), "--max-pixels", "10"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "img:" in err and "over the limit of 10 (max_pixels" in err
    assert [json.loads(line)["id"] for line in answers.read_text().splitlines()] == ["text"]
