"""transforms.py

Image and video preprocessing as Video-LLaVA / LanguageBind do it.

- Images: RGB, shortest side to ``size`` (bicubic), centre crop, scale to [0, 1], normalise; optionally
  first pad to a square with the mean colour (Video-LLaVA fine-tuning's ``image_aspect_ratio: pad``).
- Videos (LanguageBind order): ``/255``, normalise, shortest side to ``size`` (bilinear), centre crop;
  random horizontal flip only when ``train_flip`` is set (off by default, unlike the original).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torchvision.transforms import InterpolationMode

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_MODES = {"bicubic": InterpolationMode.BICUBIC, "bilinear": InterpolationMode.BILINEAR}


@dataclass(frozen=True)
class ImageTransform:
    """PIL image (any mode, any size) -> float tensor ``(3, size, size)``."""

    size: int = 224  # output side length
    mean: tuple[float, float, float] = OPENAI_CLIP_MEAN  # per-channel normalisation mean
    std: tuple[float, float, float] = OPENAI_CLIP_STD  # per-channel normalisation std
    interpolation: Literal["bicubic", "bilinear"] = "bicubic"  # resize filter
    pad_to_square: bool = False  # pad with the mean colour before resizing

    def __call__(self, image: Image.Image | np.ndarray) -> torch.Tensor:
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        image = image.convert("RGB")
        if self.pad_to_square:
            image = _expand_to_square(image, tuple(int(m * 255) for m in self.mean))
        image = TF.resize(image, [self.size], interpolation=_MODES[self.interpolation], antialias=True)
        image = TF.center_crop(image, [self.size, self.size])
        pixels = TF.to_dtype(TF.to_image(image), torch.float32, scale=True)
        return TF.normalize(pixels, list(self.mean), list(self.std))


@dataclass(frozen=True)
class VideoTransform:
    """uint8 frames ``(T, H, W, 3)`` -> float tensor ``(T, 3, size, size)``, LanguageBind order."""

    size: int = 224  # output side length
    mean: tuple[float, float, float] = OPENAI_CLIP_MEAN  # per-channel normalisation mean
    std: tuple[float, float, float] = OPENAI_CLIP_STD  # per-channel normalisation std
    interpolation: Literal["bicubic", "bilinear"] = "bilinear"  # resize filter (pytorchvideo's default)
    train_flip: bool = False  # random horizontal flip (p=0.5); only for training

    def __call__(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        video = torch.as_tensor(np.asarray(frames)).permute(0, 3, 1, 2).float() / 255.0
        video = TF.normalize(video, list(self.mean), list(self.std))
        video = TF.resize(video, [self.size], interpolation=_MODES[self.interpolation], antialias=False)
        video = TF.center_crop(video, [self.size, self.size])
        if self.train_flip and bool(torch.rand(()) < 0.5):
            video = video.flip(-1)
        return video


def _expand_to_square(image: Image.Image, fill: tuple[int, ...]) -> Image.Image:
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    canvas = Image.new(image.mode, (side, side), fill)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas
