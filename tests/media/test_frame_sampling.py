"""Sampling video frames by rate (``fps`` with ``max_frames`` / ``min_frames``) end to end: the policy's
indices against a hand-computed reference, every backend reading the same frames, bad input, and videos of
different frame counts in one batch giving the same loss as each alone (dataset -> collate -> model)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mmbind
from mmbind.data.collate import Collator
from mmbind.data.media_readers import media_readers
from mmbind.errors import MediaError, RecipeError
from mmbind.media import FramePolicy, count_frames, frame_indices, read_frames
from mmbind.model.media_items import item_groups, stack_items
from mmbind.synth.media_io import write_video
from tests.support.synth import TINY_RECIPE


def numbered_video(path, frames: int, fps: int, size: int = 32):
    """A clip whose frame i is flat grey level 4 * i (so a decoded frame tells its index)."""
    pixels = np.stack([np.full((size, size, 3), 4 * i, dtype=np.uint8) for i in range(frames)])
    write_video(pixels, path, fps=fps)
    return path


def frame_numbers(frames: np.ndarray) -> list[int]:
    return [int(round(float(f.mean()) / 4)) for f in frames]


# -- the policy ------------------------------------------------------------------------------------------


def reference_rate_indices(n: int, rate: float, fps: float, low: int, high: int) -> list[int]:
    """One frame every 1/fps seconds from t = 0 (as a loop), then the cap and the floor."""
    picked, t = [], 0.0
    while True:
        index = int(np.floor(t * rate + 1e-9))
        if index >= n:
            break
        if not picked or index != picked[-1]:
            picked.append(index)
        t += 1.0 / min(fps, rate)
    if len(picked) > high or len(picked) < low:
        count = high if len(picked) > high else low
        return [int(i) for i in np.linspace(0, n - 1, count).astype(int)]
    return picked


@pytest.mark.parametrize("n, rate, fps, low, high", [
    (48, 4.0, 1.0, 1, 64),      # 12 s at 4 frames/s, one a second: 12 frames
    (48, 4.0, 2.0, 1, 64),      # every other frame
    (300, 30.0, 1.0, 1, 64),    # 10 s at 30 frames/s: 10 frames
    (300, 30.0, 1.0, 1, 4),     # the cap binds: 4 uniform frames over the whole video
    (48, 4.0, 0.25, 8, 64),     # 3 frames by rate, the floor asks 8: uniform over all frames
    (6, 4.0, 1.0, 8, 64),       # a video shorter than min_frames: frames repeat
    (48, 4.0, 10.0, 1, 64),     # fps above the video's rate: every frame once
    (90, 29.97, 3.0, 1, 64),    # a non-integer rate
])
def test_rate_indices_match_the_reference(n, rate, fps, low, high):
    policy = FramePolicy(fps=fps, min_frames=low, max_frames=high)
    got = policy.indices(n, rate).tolist()
    assert got == reference_rate_indices(n, rate, fps, low, high)
    assert low <= len(got) <= high
    assert policy.count(n, rate) == len(got)


def test_count_policy_is_video_llavas_linspace():
    assert FramePolicy(frames=8).indices(100, 30.0).tolist() == frame_indices(100, 8).tolist()
    assert FramePolicy(frames=8).indices(3, None).tolist() == [0, 0, 0, 0, 1, 1, 1, 2]
    assert not FramePolicy(frames=8).varies and FramePolicy(fps=1.0, max_frames=16).varies
    assert FramePolicy(fps=1.0).cap == 64 and FramePolicy(fps=1.0, max_frames=16).cap == 16


def test_policy_refuses_contradictions():
    with pytest.raises(ValueError, match="max_frames 4 is below min_frames 8"):
        FramePolicy(fps=1.0, min_frames=8, max_frames=4)
    with pytest.raises(ValueError, match="fps must be > 0"):
        FramePolicy(fps=0.0)
    with pytest.raises(ValueError, match="does not tell its frame rate"):
        FramePolicy(fps=1.0).indices(10, None)


# -- reading files -----------------------------------------------------------------------------------------


def test_read_frames_by_rate_reads_those_frames(tmp_path):
    video = numbered_video(tmp_path / "clip.mp4", 48, fps=4)
    policy = FramePolicy(fps=1.0, max_frames=32)
    frames = read_frames(video, policy)
    assert frame_numbers(frames) == list(range(0, 48, 4))
    assert count_frames(video, policy) == 12
    capped = read_frames(video, FramePolicy(fps=1.0, max_frames=5))
    assert frame_numbers(capped) == frame_indices(48, 5).tolist()


@pytest.mark.parametrize("backend", ["decord", "torchcodec"])
def test_every_backend_reads_the_same_frames(tmp_path, backend):
    pytest.importorskip(backend)
    video = numbered_video(tmp_path / "clip.mp4", 40, fps=8)
    policy = FramePolicy(fps=2.0, max_frames=16)
    try:
        got = read_frames(video, policy, backend=backend)
    except MediaError as error:  # torchcodec installed without the system's FFmpeg libraries
        pytest.skip(str(error))
    expected = read_frames(video, policy, backend="pyav")
    assert got.shape == expected.shape == (10, 32, 32, 3)
    assert np.array_equal(got, expected)


def test_torchcodec_without_the_module_says_how_to_install_it(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torchcodec(name, *args, **kwargs):
        if name.startswith("torchcodec"):
            raise ImportError("No module named 'torchcodec'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torchcodec)
    video = numbered_video(tmp_path / "clip.mp4", 8, fps=4)
    with pytest.raises(MediaError, match=r"'torchcodec' video backend is not available .*\[torchcodec\]"):
        read_frames(video, 4, backend="torchcodec")


def test_loader_options_are_checked_with_the_field_named():
    with pytest.raises(RecipeError, match=r"data.media.video: .*min_frames: min_frames 8 is above max_frames "
                                          r"4"):
        media_readers(["video"], {"video": {"fps": 1.0, "max_frames": 4, "min_frames": 8}})
    with pytest.raises(RecipeError, match=r"data.media.video: .*max_frames: max_frames applies to sampling "
                                          r"by rate: set fps"):
        media_readers(["video"], {"video": {"max_frames": 16}})
    with pytest.raises(RecipeError, match=r"data.media.video: .*fps"):
        media_readers(["video"], {"video": {"fps": -1}})


def test_overrides_replace_the_recipes_sampling_as_a_whole(tmp_path):
    video = numbered_video(tmp_path / "clip.mp4", 48, fps=4)
    recipe = {"video": {"fps": 1.0, "max_frames": 32}}
    by_rate = media_readers(["video"], recipe, {"frames": 8})["video"]
    assert by_rate.frames_vary and by_rate.frames == 32 and by_rate.frames_of(video) == 12
    counted = media_readers(["video"], recipe, {"frames": 8}, {"frames": 6})["video"]
    assert not counted.frames_vary and counted.frames_of(video) == 6
    assert counted.load(video).shape[0] == 6


# -- videos of different lengths in one batch ----------------------------------------------------------------


@pytest.fixture(scope="module")
def model():
    recipe = mmbind.load_recipe(TINY_RECIPE, ["model.encoders.video.options.chunk_frames=4"])
    return mmbind.build_model(recipe).eval()


def test_stack_items_keeps_tensors_when_shapes_agree():
    same = stack_items([torch.zeros(4, 3), torch.ones(4, 3)])
    assert isinstance(same, torch.Tensor) and same.shape == (2, 4, 3)
    mixed = stack_items([torch.zeros(4, 3), torch.ones(6, 3), torch.ones(4, 3)])
    assert isinstance(mixed, list)
    groups = [(slots, tuple(g.shape)) for slots, g in item_groups(mixed)]
    assert groups == [([0, 2], (2, 4, 3)), ([1], (1, 6, 3))]


def test_ragged_videos_give_each_items_own_tokens(model):
    torch.manual_seed(0)
    videos = [torch.randn(t, 3, 28, 28) for t in (4, 7, 4)]
    out = model.encode({"video": videos})["video"]
    assert isinstance(out, list)
    for video, tokens in zip(videos, out):
        alone = model.encode({"video": video[None]})["video"][0]
        assert tokens.shape[0] == model.item_tokens("video", video.shape[0])
        torch.testing.assert_close(tokens, alone, rtol=1e-5, atol=1e-6)


def test_ragged_batch_loss_equals_each_sample_alone(model):
    torch.manual_seed(1)
    vid = model.config.placeholder_ids["video"]
    rows = [[1, vid, 5, 6, 7], [2, 3, vid, 9]]
    videos = [torch.randn(4, 3, 28, 28), torch.randn(9, 3, 28, 28)]
    ids = torch.tensor([rows[0], [*rows[1], 0]])
    mask = torch.tensor([[1] * 5, [1, 1, 1, 1, 0]])
    labels = ids.masked_fill(ids == vid, -100).masked_fill(mask == 0, -100)
    batch = model(ids, mask, labels, media={"video": videos}, loss_reduction="sum")
    singles = [model(torch.tensor([r]), None, torch.tensor([r]).masked_fill(torch.tensor([r]) == vid, -100),
                     media={"video": v[None]}, loss_reduction="sum") for r, v in zip(rows, videos)]
    torch.testing.assert_close(batch.loss, sum(s.loss for s in singles), rtol=1e-5, atol=1e-5)
    assert batch.logits.shape[1] == max(len(r) - 1 + model.item_tokens("video", v.shape[0])
                                        for r, v in zip(rows, videos))


def test_a_fixed_frame_encoder_refuses_a_mismatched_reader():
    from mmbind.data.build import item_frames

    class FixedEight:
        item_shape = (8, 3, 28, 28)
        temporal = False

    reader = media_readers(["video"], {"video": {"fps": 1.0, "max_frames": 16}})["video"]
    with pytest.raises(RecipeError, match=r"takes exactly 8 frames per item, but data.media.video reads "
                                          r"up to 16 \(by rate\)"):
        item_frames(FixedEight(), reader)
    assert item_frames(FixedEight(), media_readers(["video"], {"video": {"frames": 8}})["video"]) is None


def test_collator_keeps_ragged_videos_as_a_list():
    from mmbind.data.example import Example, MediaItem

    def example(name, frames):
        return Example(name, torch.tensor([1, 2]), torch.tensor([1, 2]),
                       [MediaItem("video", pixels=torch.zeros(frames, 3, 28, 28))], 2)

    batch = Collator(pad_id=0)([example("a", 4), example("b", 6)])
    pixels = batch.media["video"].pixels
    assert isinstance(pixels, list) and [p.shape[0] for p in pixels] == [4, 6]
    same = Collator(pad_id=0)([example("a", 4), example("b", 4)]).media["video"].pixels
    assert isinstance(same, torch.Tensor) and same.shape[:2] == (2, 4)


# -- training and answering with videos sampled by rate ---------------------------------------------------


@pytest.mark.slow
def test_training_by_rate_caches_each_videos_own_length(tmp_path):
    from safetensors import safe_open

    from mmbind.inference import Generator, Query
    from mmbind.train import train
    from tests.support.train import make_data, tiny_train_recipe

    data = make_data(tmp_path / "data", images=2, videos=4, text_only=1)
    videos = sorted(data.rglob("*.mp4"))
    side = read_frames(videos[0], 1).shape[1]
    for i, path in enumerate(videos):
        numbered_video(path, 6 + 4 * i, fps=4, size=side)
    recipe = tiny_train_recipe(data, "data.media={video: {fps: 2.0, max_frames: 6, min_frames: 2}}",
                               "stages.pretrain=null", "stages.finetune.epochs=2",
                               cache=tmp_path / "cache")
    run = train(recipe, tmp_path / "run", progress=False)
    assert run["status"] == "done"
    found = set()
    for file in (tmp_path / "cache").glob("*/*.safetensors"):
        with safe_open(str(file), "pt") as handle:
            found.add(handle.get_tensor("features").shape[0])
    model = mmbind.load_pretrained(tmp_path / "run" / "stages" / "finetune")
    # 6, 10, 14, 18 frames at 4 frames/s read at 2 frames/s: 3, 5, 7 -> 6 (the cap), 9 -> 6
    assert {model.encoders["video"].tokens_per_item(t) for t in (3, 5, 6)} <= found
    generator = Generator(model, frames={"fps": 2.0, "max_frames": 6, "min_frames": 2})
    answers = generator.answer([Query("What is it?", "video", path) for path in videos], 3, batch_size=4)
    assert len(answers) == 4
