"""float_image.py

The spatial part of LanguageBind's depth and thermal preprocessing, on float tensors, as its torchvision
``Compose`` does it after the modality's own first step (``DepthNorm`` / ``ToTensor``):

``Resize(size, BICUBIC)`` -> ``CenterCrop(size)`` -> ``Normalize(OpenAI CLIP mean, std)``, that is:

- shortest side to ``size``, long side ``int(size * long / short)`` (torchvision's rule; an image already
  of that size is not resampled); bicubic ``F.interpolate`` with ``align_corners=False`` on the float
  tensor, no rounding and no clamping (a float tensor's overshoot is kept, as torchvision keeps it);
  ``antialias`` is off by default: LanguageBind pins torchvision 0.14, whose tensor ``Resize`` did not
  antialias (later versions do by default);
- a centre ``size`` crop starting at ``round((H - size) / 2)`` (torchvision's ``CenterCrop``, Python's
  round half to even);
- ``(x - mean) / std`` per channel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_crop_normalize(
    pixels: torch.Tensor,
    size: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    antialias: bool = False,
) -> torch.Tensor:
    """``(C, H, W)`` float pixels -> ``(C, size, size)``: resize, centre crop, normalise (see module)."""
    height, width = pixels.shape[-2:]
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(size * long / short)
    new_size = (new_long, size) if width <= height else (size, new_long)
    if new_size != (height, width):
        pixels = F.interpolate(
            pixels[None], size=new_size, mode="bicubic", align_corners=False, antialias=antialias
        )[0]
    top = int(round((new_size[0] - size) / 2.0))
    left = int(round((new_size[1] - size) / 2.0))
    pixels = pixels[..., top : top + size, left : left + size]
    mean_t = torch.tensor(mean, dtype=pixels.dtype).view(-1, 1, 1)
    std_t = torch.tensor(std, dtype=pixels.dtype).view(-1, 1, 1)
    return ((pixels - mean_t) / std_t).contiguous()
