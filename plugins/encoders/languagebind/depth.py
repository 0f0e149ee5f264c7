"""depth.py

The ``languagebind_depth`` encoder: LanguageBind_Depth's vision tower, a plain CLIP ViT-L/14 (224 px) in
transformers' `CLIPVisionModel` layout, with LanguageBind's depth preprocessing.

``(N, 3, H, W) -> (N, P, D)``: the tokens of ``hidden_states[select_layer]`` (default -2), CLS dropped by
default (256 tokens at 224 px), as ``languagebind_image``. Weights come from a local LanguageBind_Depth
checkpoint (``vision_model.*`` next to the text tower and ``visual_projection``, which are skipped) or a bare
CLIPVisionModel state dict; the vision keys load strictly.

Preprocessing (`DepthTransform`, LanguageBind's ``processing_depth.py``): the ``depth`` loader's raw map
(what ``cv2.imread(path, cv2.IMREAD_UNCHANGED).astype("float32")`` gives: millimetres for NYUv2-style
16-bit PNGs) -> ``DepthNorm``: ``/ depth_scale`` (1000: metres), clamp below at ``min_depth`` (0.01 m),
then clamp above at ``max_depth`` and divide by it (LanguageBind_Depth's config: 10 m; ``max_depth: 0``
divides by the map's own maximum instead, as upstream) -> the one channel repeated to 3 -> bicubic
resize / centre crop / OpenAI CLIP normalisation (`float_image.resize_crop_normalize`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from pydantic import Field
from transformers import CLIPVisionModel

from mmbind import EncoderEntry, InputError, hookimpl
from mmbind.interfaces import BuildContext
from mmbind.media import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

from .float_image import resize_crop_normalize
from .presets import TowerOptions
from .still import StillTowerEncoder, build_still

NAME = "languagebind_depth"
MAX_DEPTH = 10.0  # metres: LanguageBind_Depth's vision_config.max_depth (and its training script's)
MIN_DEPTH = 0.01  # metres: DepthNorm's min_depth
DEPTH_SCALE = 1000.0  # raw units per metre: DepthNorm's scale (NYUv2 millimetres)


class LanguageBindDepthOptions(TowerOptions):
    """Options of the ``languagebind_depth`` encoder."""

    keep_cls: bool = False  # keep the CLS token (dropped by default, as languagebind_image: 256 tokens)
    # metres mapped to 1.0; 0: each map's own maximum
    max_depth: float = Field(MAX_DEPTH, ge=0.0, allow_inf_nan=False)
    # metres: smaller depths (and holes, 0) are raised to it
    min_depth: float = Field(MIN_DEPTH, ge=0.0, allow_inf_nan=False)
    # raw map units per metre (1000: millimetres)
    depth_scale: float = Field(DEPTH_SCALE, gt=0.0, allow_inf_nan=False)
    antialias: bool = False  # antialiased bicubic resize (LanguageBind's pinned torchvision: no)


@dataclass(frozen=True)
class DepthTransform:
    """A raw depth map ``(H, W)`` (array or tensor, any real dtype) -> float tensor ``(3, size, size)``."""

    size: int = 224  # output side length
    max_depth: float = MAX_DEPTH  # metres mapped to 1.0 (0: the map's own maximum)
    min_depth: float = MIN_DEPTH  # metres, lower clamp
    depth_scale: float = DEPTH_SCALE  # raw units per metre
    antialias: bool = False  # antialiased bicubic resize

    def __call__(self, depth: np.ndarray | torch.Tensor) -> torch.Tensor:
        values = torch.as_tensor(np.asarray(depth, dtype=np.float32))
        if values.ndim == 3 and values.shape[-1] == 1:
            values = values[..., 0]
        if values.ndim != 2 or values.numel() == 0:
            shape = tuple(values.shape)
            raise InputError(f"{NAME}: expected a one-channel depth map (H, W), got shape {shape}")
        metres = (values / self.depth_scale).clamp(min=self.min_depth)
        if self.max_depth != 0:
            metres = metres.clamp(max=self.max_depth) / self.max_depth
        else:
            metres = metres / metres.max()
        pixels = metres.unsqueeze(0).repeat(3, 1, 1)
        return resize_crop_normalize(pixels, self.size, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, self.antialias)


class LanguageBindDepthEncoder(StillTowerEncoder):
    """A CLIP ViT returning one hidden layer's tokens for each depth map."""

    def __init__(self, tower: CLIPVisionModel, options: LanguageBindDepthOptions, modality: str) -> None:
        transform = DepthTransform(
            size=tower.config.image_size, max_depth=options.max_depth, min_depth=options.min_depth,
            depth_scale=options.depth_scale, antialias=options.antialias,
        )
        super().__init__(tower, options, options.keep_cls, NAME, modality, transform)


def build(options: LanguageBindDepthOptions, context: BuildContext) -> LanguageBindDepthEncoder:
    """Factory registered as ``languagebind_depth``."""
    return build_still(LanguageBindDepthEncoder, NAME, options, context, "depth")


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            NAME, LanguageBindDepthOptions, build, ("depth",),
            "LanguageBind_Depth CLIP ViT with LanguageBind's depth normalisation, local weights",
        )
    ]
