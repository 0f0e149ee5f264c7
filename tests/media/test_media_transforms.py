"""Transforms vs independent references: HF CLIPImageProcessor, torchvision, LanguageBind."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms as T
from transformers import CLIPImageProcessor
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

from mmbind.media import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    ImageTransform,
    VideoTransform,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # "_transforms_video is deprecated": only the reference
    from torchvision.transforms._transforms_video import CenterCropVideo, NormalizeVideo

GREY_LEVEL = 1 / 255 / min(OPENAI_CLIP_STD)  # one uint8 step after normalisation (~0.0146)


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def smooth(width: int, height: int) -> Image.Image:
    """A natural-image-like smooth picture (the references disagree only by rounding on it)."""
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    channels = [np.sin(6 * xx + 1), np.cos(5 * yy), np.sin(4 * (xx + yy))]
    return Image.fromarray((128 + 100 * np.stack(channels, -1)).astype(np.uint8))


def hf(processor, image: Image.Image) -> torch.Tensor:
    return processor(images=image, return_tensors="pt").pixel_values[0]


# -- images ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [(640, 480), (333, 517), (225, 224), (224, 224), (100, 37), (50, 20), (5, 300)]
)
def test_image_transform_is_bit_identical_to_hf_clip_processor_pil_backend(size):
    image = noise(*size)
    ours = ImageTransform()(image)
    assert ours.shape == (3, 224, 224) and ours.dtype == torch.float32
    torch.testing.assert_close(ours, hf(CLIPImageProcessorPil(), image), rtol=0, atol=1e-6)


@pytest.mark.parametrize("size", [(640, 480), (333, 517), (1001, 999), (100, 37)])
def test_image_transform_is_within_two_grey_levels_of_hf_default_torchvision_backend(size):
    # transformers 5's default CLIPImageProcessor resizes uint8 tensors with a float kernel and rounds;
    # PIL uses fixed-point coefficients: single pixels differ by one (upscaling: two) uint8 steps.
    image = noise(*size)
    diff = (ImageTransform()(image) - hf(CLIPImageProcessor(), image)).abs()
    assert diff.max() <= 2 * GREY_LEVEL + 1e-6
    assert diff.mean() < 2e-4


@pytest.mark.parametrize("size", [(640, 480), (400, 300), (300, 500), (100, 50)])
def test_image_transform_matches_languagebinds_torchvision_pipeline_on_smooth_images(size):
    # LanguageBind: ToTensor -> Resize(224, bicubic) on the float tensor -> CenterCrop -> Normalize.
    # These sizes have an even crop excess, so torchvision's rounded crop offset equals HF's floor.
    reference = T.Compose([
        T.ToTensor(),
        T.Resize(224, interpolation=T.InterpolationMode.BICUBIC, antialias=True),
        T.CenterCrop(224),
        T.Normalize(OPENAI_CLIP_MEAN, OPENAI_CLIP_STD),
    ])
    image = smooth(*size)
    diff = (ImageTransform()(image) - reference(image)).abs()
    assert diff.max() <= 1.05 * GREY_LEVEL  # PIL rounds the resized image to uint8; the float path does not
    assert diff.mean() < 0.35 * GREY_LEVEL


def test_crop_offset_round_and_crop_pct_reproduce_timm_style_torchvision_eval():
    image = noise(400, 300)  # resized to 46x35: odd excess 3, where floor (1) and round (2) differ
    reference = T.Compose([
        T.Resize(35, interpolation=T.InterpolationMode.BICUBIC),
        T.CenterCrop(32),
        T.ToTensor(),
        T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])
    ours = ImageTransform(size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=0.9, crop_offset="round")
    torch.testing.assert_close(ours(image), reference(image), rtol=0, atol=1e-6)
    floor = ImageTransform(size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=0.9)(image)
    torch.testing.assert_close(floor[:, 1:, :], ours(image)[:, :-1, :], rtol=0, atol=1e-6)  # one row apart
    with pytest.raises(ValueError, match=r"crop_pct must be in \(0, 1\], got 1.5"):
        ImageTransform(crop_pct=1.5)(image)


def expand2square(image: Image.Image, background: tuple[int, ...]) -> Image.Image:
    """Video-LLaVA's mm_utils.expand2square, restated for the test."""
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    result = Image.new(image.mode, (side, side), background)
    offset = (0, (width - height) // 2) if width > height else ((height - width) // 2, 0)
    result.paste(image, offset)
    return result


@pytest.mark.parametrize("size", [(300, 120), (120, 301), (64, 64)])
def test_pad_to_square_is_videollavas_expand2square_with_the_mean_colour(size):
    transform = ImageTransform(pad_to_square=True)
    assert transform.fill_colour == (122, 116, 104)  # tuple(int(x * 255) for x in OPENAI_CLIP_MEAN)
    image = noise(*size)
    expected = hf(CLIPImageProcessorPil(), expand2square(image, transform.fill_colour))
    torch.testing.assert_close(transform(image), expected, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_extreme_shapes_stay_bounded_and_close_to_the_exact_path():
    for size in [(1, 300), (300, 1), (7, 2000)]:  # beyond 1:64 only the kept window is resampled
        image = smooth(*size)
        diff = (ImageTransform()(image) - hf(CLIPImageProcessorPil(), image)).abs()
        assert diff.max() <= GREY_LEVEL + 1e-6, size
    # a pad canvas is capped at 8192 px (instead of 12000^2): same picture as the exact path at 1/10 scale
    pad = ImageTransform(pad_to_square=True)
    big = pad(Image.new("RGB", (12000, 1200), (255, 255, 255)))
    small = pad(Image.new("RGB", (1200, 120), (255, 255, 255)))
    assert (big - small).abs().max() <= 2 * GREY_LEVEL + 1e-6
    mean, std = torch.tensor(OPENAI_CLIP_MEAN), torch.tensor(OPENAI_CLIP_STD)
    fill = (torch.tensor(pad.fill_colour) / 255 - mean) / std
    torch.testing.assert_close(big[:, 0, 0], fill, rtol=0, atol=1e-6)  # top rows are padding
    assert big[:, 112, 112].min() > 1.8  # the white strip across the middle


def test_image_inputs_in_any_mode_or_as_arrays_are_converted_like_convert_rgb():
    rgba = np.random.default_rng(1).integers(0, 256, (40, 50, 4), dtype=np.uint8)
    as_rgba = ImageTransform(size=32)(Image.fromarray(rgba, "RGBA"))
    as_array = ImageTransform(size=32)(np.ascontiguousarray(rgba[..., :3]))
    torch.testing.assert_close(as_rgba, as_array, rtol=0, atol=0)


# -- videos ---------------------------------------------------------------------------------------------


def languagebind_video(frames: np.ndarray, size: int = 224) -> torch.Tensor:
    """LanguageBind's decord-path transform without the random flip, from its building blocks."""
    video = torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 255.0  # C, T, H, W
    video = NormalizeVideo(OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)(video)
    _, _, height, width = video.shape  # pytorchvideo ShortSideScale:
    if width < height:
        new = (int(math.floor(float(height) / width * size)), size)
    else:
        new = (size, int(math.floor(float(width) / height * size)))
    video = F.interpolate(video, size=new, mode="bilinear", align_corners=False)
    return CenterCropVideo(size)(video).permute(1, 0, 2, 3)  # T, C, H, W


@pytest.mark.parametrize("shape", [(48, 64), (360, 640), (64, 48), (225, 300), (224, 224), (30, 31)])
def test_video_transform_equals_languagebinds_pipeline(shape):
    frames = np.random.default_rng(0).integers(0, 256, (3, *shape, 3), dtype=np.uint8)
    ours = VideoTransform()(frames)
    assert ours.shape == (3, 3, 224, 224)
    torch.testing.assert_close(ours, languagebind_video(frames), rtol=0, atol=1e-6)


def test_video_flip_only_when_training():
    frames = np.random.default_rng(0).integers(0, 256, (2, 40, 50, 3), dtype=np.uint8)
    plain = VideoTransform(size=32)(frames)
    torch.manual_seed(0)
    assert all(torch.equal(VideoTransform(size=32)(frames), plain) for _ in range(8))  # off by default
    outputs = [VideoTransform(size=32, train_flip=True)(frames) for _ in range(40)]
    flipped = [torch.equal(out, plain.flip(-1)) for out in outputs]
    assert all(f or torch.equal(out, plain) for f, out in zip(flipped, outputs))  # the whole clip, or nothing
    assert 5 < sum(flipped) < 35  # p = 0.5
