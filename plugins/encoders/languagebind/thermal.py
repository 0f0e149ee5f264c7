"""thermal.py

The ``languagebind_thermal`` encoder: LanguageBind_Thermal's vision tower, a plain CLIP ViT-L/14 (224 px)
in transformers' `CLIPVisionModel` layout, with LanguageBind's thermal (infrared) preprocessing.

``(N, 3, H, W) -> (N, P, D)``: the tokens of ``hidden_states[select_layer]`` (default -2), CLS dropped by
default (256 tokens at 224 px), as ``languagebind_image``. Weights come from a local LanguageBind_Thermal
checkpoint (``vision_model.*`` next to the text tower and ``visual_projection``, which are skipped) or a
bare CLIPVisionModel state dict; the vision keys load strictly.

Preprocessing (`ThermalTransform`, LanguageBind's ``processing_thermal.py``): the ``thermal`` loader's
RGB image -> ``ToTensor`` (``/255``, float) -> bicubic resize of the float tensor / centre crop / OpenAI
CLIP normalisation (`float_image.resize_crop_normalize`). This differs from ``languagebind_image``'s
transform, which resizes the uint8 image with PIL (HF's CLIPImageProcessor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from transformers import CLIPVisionModel

from mmbind import EncoderEntry, hookimpl
from mmbind.interfaces import BuildContext
from mmbind.media import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
from mmbind.media.image import to_rgb

from .float_image import resize_crop_normalize
from .presets import TowerOptions
from .still import StillTowerEncoder, build_still

NAME = "languagebind_thermal"


class LanguageBindThermalOptions(TowerOptions):
    """Options of the ``languagebind_thermal`` encoder."""

    keep_cls: bool = False  # keep the CLS token (dropped by default, as languagebind_image: 256 tokens)
    antialias: bool = False  # antialiased bicubic resize (LanguageBind's pinned torchvision: no)


@dataclass(frozen=True)
class ThermalTransform:
    """A PIL image (converted to RGB) or ``(H, W, 3)`` uint8 array -> float tensor ``(3, size, size)``."""

    size: int = 224  # output side length
    antialias: bool = False  # antialiased bicubic resize

    def __call__(self, image: Image.Image | np.ndarray) -> torch.Tensor:
        if isinstance(image, np.ndarray):
            image = Image.fromarray(image)
        rgb = np.array(to_rgb(image), dtype=np.uint8)  # (H, W, 3)
        pixels = torch.from_numpy(rgb).permute(2, 0, 1).float().div(255.0)  # ToTensor
        return resize_crop_normalize(pixels, self.size, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, self.antialias)


class LanguageBindThermalEncoder(StillTowerEncoder):
    """A CLIP ViT returning one hidden layer's tokens for each thermal image."""

    def __init__(self, tower: CLIPVisionModel, options: LanguageBindThermalOptions, modality: str) -> None:
        transform = ThermalTransform(size=tower.config.image_size, antialias=options.antialias)
        super().__init__(tower, options, options.keep_cls, NAME, modality, transform)


def build(options: LanguageBindThermalOptions, context: BuildContext) -> LanguageBindThermalEncoder:
    """Factory registered as ``languagebind_thermal``."""
    return build_still(LanguageBindThermalEncoder, NAME, options, context, "thermal")


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            NAME, LanguageBindThermalOptions, build, ("thermal",),
            "LanguageBind_Thermal CLIP ViT with LanguageBind's infrared preprocessing, local weights",
        )
    ]
