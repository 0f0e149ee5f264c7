"""transforms.py

Image and video preprocessing as Video-LLaVA / LanguageBind do it (MAE etc.: pass ImageNet mean/std).

Images (`ImageTransform`, PIL or ``(H, W, 3)`` uint8 -> ``(3, size, size)`` float):
``RGB`` -> [pad to square with the mean colour] -> shortest side to ``size`` (PIL bicubic on uint8; long
side ``int(size * long / short)``) -> centre crop (offset ``(H - size) // 2``) -> ``/255`` -> normalise.
This is HF's ``CLIPImageProcessor`` (``shortest_edge=size``, crop ``size``, OpenAI mean/std):
bit-identical to its PIL backend (``CLIPImageProcessorPil``, the transformers<5 default that LLaVA and
Video-LLaVA-hf used), and within two uint8 steps (one step = 1/255/std ~ 0.015 after normalising; mean
|diff| ~1e-4) of the transformers 5 default torchvision backend, which resizes uint8 tensors with a
float kernel and rounds, where PIL uses fixed-point coefficients (tested).
The original LanguageBind pipeline (``ToTensor -> Resize(bicubic) -> CenterCrop -> Normalize``) resizes
the float tensor without rounding to uint8 or clamping, and centres the crop with ``round``: on natural
(smooth) images it is within about one uint8 step of this transform when the crop excess is even
(tested); an odd excess shifts its crop by one pixel (``crop_offset="round"`` reproduces that), and on
pixel noise its unclamped bicubic overshoot differs by more. (Under Video-LLaVA's pins, torch 2.0.1 /
torchvision 0.15, that tensor resize did not antialias by default: strong aliasing on large downscales.)
``crop_pct`` < 1 resizes to ``floor(size / crop_pct)`` first, as timm's eval transform (MAE: ImageNet
mean/std, ``crop_pct=0.9``, ``crop_offset="round"`` to match torchvision's ``CenterCrop``).
Padding is Video-LLaVA's ``expand2square`` (``image_aspect_ratio: pad``), fill ``int(255 * mean)``.
Extreme shapes stay bounded in memory: beyond ``1:64`` only the kept window is resampled (PIL's resize
``box``; within one uint8 step on smooth images, exact on some), and a pad canvas longer than 8192 px is
built from a downscaled image.

Videos (`VideoTransform`, ``(T, H, W, 3)`` uint8 -> ``(T, 3, size, size)`` float), LanguageBind order:
``/255`` -> normalise -> shortest side to ``size`` (pytorchvideo ``ShortSideScale``: bilinear,
``align_corners=False``, no antialias, long side ``floor(long / short * size)``) -> centre crop
(``round((H - size) / 2)`` as ``CenterCropVideo``) -> random horizontal flip only if ``train_flip`` (the
original flips with p=0.5 even at inference; off by default here). Frames go through in groups of at most
``_GROUP_BYTES`` of float input, so the float copies of large frames never exist for the whole clip at
once (the same values as one pass: every step works frame by frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mmbind.media.image import to_rgb

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

CropOffset = Literal["floor", "round"]
_PIL_FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
_MAX_ASPECT = 64  # longer/shorter side above which only the kept window is resampled
_MAX_PAD_SIDE = 8192  # largest square canvas built by pad_to_square
_GROUP_BYTES = 64 * 2**20  # float32 input of the frames transformed together


@dataclass(frozen=True)
class ImageTransform:
    """PIL image (any mode, any size) or ``(H, W, 3)`` uint8 array -> float tensor ``(3, size, size)``."""

    size: int = 224  # output side length
    mean: tuple[float, float, float] = OPENAI_CLIP_MEAN  # per-channel normalisation mean
    std: tuple[float, float, float] = OPENAI_CLIP_STD  # per-channel normalisation std
    interpolation: Literal["bicubic", "bilinear"] = "bicubic"  # PIL resize filter
    pad_to_square: bool = False  # pad with the mean colour before resizing (Video-LLaVA's expand2square)
    crop_pct: float = 1.0  # resize the short side to floor(size / crop_pct) before the crop (timm's eval)
    crop_offset: CropOffset = "floor"  # centre-crop offset: HF's (H - size) // 2, or torchvision's round

    def __call__(self, image: Image.Image | np.ndarray) -> torch.Tensor:
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        image = to_rgb(image)
        if self.pad_to_square:
            image = expand_to_square(_shrink_long_side(image, _MAX_PAD_SIDE), self.fill_colour)
        short = _scale_size(self.size, self.crop_pct)
        resample = _PIL_FILTERS[self.interpolation]
        image = resize_center_crop(image, self.size, resample, short, self.crop_offset)
        pixels = torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1) / 255.0
        return _normalize(pixels, self.mean, self.std, channel_dim=0)

    @property
    def fill_colour(self) -> tuple[int, int, int]:
        """Padding colour: ``tuple(int(255 * m) for m in mean)``, as Video-LLaVA's training code."""
        return tuple(int(m * 255) for m in self.mean)  # type: ignore[return-value]


@dataclass(frozen=True)
class VideoTransform:
    """uint8 frames ``(T, H, W, 3)`` -> float tensor ``(T, 3, size, size)``, LanguageBind order."""

    size: int = 224  # output side length
    mean: tuple[float, float, float] = OPENAI_CLIP_MEAN  # per-channel normalisation mean
    std: tuple[float, float, float] = OPENAI_CLIP_STD  # per-channel normalisation std
    interpolation: Literal["bicubic", "bilinear"] = "bilinear"  # resize filter (pytorchvideo's default)
    train_flip: bool = False  # random horizontal flip (p=0.5); only for training
    crop_pct: float = 1.0  # resize the short side to floor(size / crop_pct) before the crop (timm's eval)
    crop_offset: CropOffset = "round"  # centre-crop offset: CenterCropVideo's round, or HF's floor

    def __call__(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        frames = torch.as_tensor(np.asarray(frames))
        per_frame = max(1, frames[0].numel() * 4) if len(frames) else 1
        group = max(1, _GROUP_BYTES // per_frame)
        video = torch.cat([self._resize_crop(frames[start:start + group])
                           for start in range(0, len(frames), group)]) if len(frames) > group \
            else self._resize_crop(frames)
        if self.train_flip and bool(torch.rand(()) < 0.5):
            video = video.flip(-1)
        return video.contiguous()

    def _resize_crop(self, frames: torch.Tensor) -> torch.Tensor:
        video = frames.permute(0, 3, 1, 2).float() / 255.0
        video = _normalize(video, self.mean, self.std, channel_dim=1)
        height, width = video.shape[-2:]
        short = _scale_size(self.size, self.crop_pct)
        if width < height:
            new_size = (int(math.floor(height / width * short)), short)
        else:
            new_size = (short, int(math.floor(width / height * short)))
        video = F.interpolate(video, size=new_size, mode=self.interpolation, align_corners=False)
        top = _offset(new_size[0] - self.size, self.crop_offset)
        left = _offset(new_size[1] - self.size, self.crop_offset)
        return video[..., top : top + self.size, left : left + self.size]


def resize_center_crop(
    image: Image.Image,
    size: int,
    resample: Image.Resampling,
    short: int | None = None,
    offset: CropOffset = "floor",
) -> Image.Image:
    """Shortest side to ``short`` (default ``size``; long side ``int(short * long / shortest)``, as HF and
    torchvision compute it), then a centre ``size`` crop."""
    short = short or size
    width, height = image.size
    if width <= height:
        new_width, new_height = short, int(short * height / width)
    else:
        new_width, new_height = int(short * width / height), short
    top, left = _offset(new_height - size, offset), _offset(new_width - size, offset)
    if max(width, height) > _MAX_ASPECT * min(width, height):
        # Resample only the kept window (PIL's ``box``) instead of a size x (size * aspect) image.
        sx, sy = width / new_width, height / new_height
        box = (left * sx, top * sy, (left + size) * sx, (top + size) * sy)
        return image.resize((size, size), resample, box=box)
    if (new_width, new_height) != (width, height):
        image = image.resize((new_width, new_height), resample)
    return image.crop((left, top, left + size, top + size))


def expand_to_square(image: Image.Image, fill: tuple[int, ...]) -> Image.Image:
    """Video-LLaVA's ``expand2square``: centre ``image`` on a square canvas of colour ``fill``."""
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    canvas = Image.new(image.mode, (side, side), fill)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def _scale_size(size: int, crop_pct: float) -> int:
    if not 0.0 < crop_pct <= 1.0:
        raise ValueError(f"crop_pct must be in (0, 1], got {crop_pct}")
    return int(math.floor(size / crop_pct))


def _offset(excess: int, rule: CropOffset) -> int:
    """Start of a centred window; ``round`` is Python's (half to even), as torchvision's CenterCrop."""
    return excess // 2 if rule == "floor" else int(round(excess / 2.0))


def _shrink_long_side(image: Image.Image, limit: int) -> Image.Image:
    width, height = image.size
    if max(width, height) <= limit:
        return image
    scale = limit / max(width, height)
    shape = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(shape, Image.Resampling.BICUBIC)


def _normalize(
    pixels: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...], channel_dim: int
) -> torch.Tensor:
    shape = [1] * pixels.dim()
    shape[channel_dim] = -1
    mean_t = torch.tensor(mean, dtype=pixels.dtype).view(shape)
    std_t = torch.tensor(std, dtype=pixels.dtype).view(shape)
    return (pixels - mean_t) / std_t
