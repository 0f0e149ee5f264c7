"""image.py

The ``languagebind_image`` encoder: LanguageBind_Image's vision tower, which is a plain CLIP ViT (OpenCLIP
ViT-L/14 weights in transformers' `CLIPVisionModel` layout), as Video-LLaVA uses it for images.

``(N, 3, H, W) -> (N, P, D)``: the tokens of ``hidden_states[select_layer]`` (default -2, the output of the
second-to-last layer, before ``post_layernorm``), CLS dropped by default (256 tokens at 224 px). Weights
come from a local LanguageBind_Image checkpoint (``vision_model.*`` next to the text tower, which is
skipped) or a bare CLIPVisionModel state dict; the vision keys load strictly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from transformers import CLIPVisionConfig, CLIPVisionModel

from mmbind import EncoderEntry, hookimpl
from mmbind.interfaces import BuildContext
from mmbind.interfaces.encoder_helpers import drop_cls, pixel_shape
from mmbind.media import ImageTransform

from .base import TowerEncoder
from .presets import TowerOptions, make_config, restored_config

NAME = "languagebind_image"


class LanguageBindImageOptions(TowerOptions):
    """Options of the ``languagebind_image`` encoder."""

    keep_cls: bool = False  # keep the CLS token (Video-LLaVA drops it for images: 256 tokens)
    pad_to_square: bool = False  # preprocessing: pad to a square with the mean colour (Video-LLaVA's "pad")


class LanguageBindImageEncoder(TowerEncoder):
    """A CLIP ViT returning one hidden layer's tokens for each image."""

    def __init__(self, tower: CLIPVisionModel, options: LanguageBindImageOptions, modality: str) -> None:
        super().__init__(tower, options, options.keep_cls, NAME, modality)
        self.pad_to_square = options.pad_to_square

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        return pixel_shape(self.tower.config.image_size, video=False)

    def tokens_per_item(self, num_frames: int | None = None) -> int:
        return self.tokens_per_frame()

    def media_transform(self) -> Callable[[Any], torch.Tensor]:
        return ImageTransform(size=self.tower.config.image_size, pad_to_square=self.pad_to_square)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        hidden = self.tower(pixel_values=pixels.to(self.tower.dtype), output_hidden_states=True).hidden_states
        return drop_cls(hidden[self.layer], self.keep_cls)


def build(options: LanguageBindImageOptions, context: BuildContext) -> LanguageBindImageEncoder:
    """Factory registered as ``languagebind_image``."""
    config: CLIPVisionConfig
    if context.artifacts_dir is not None:
        config = restored_config(context.artifacts_dir, options.attn_implementation)
    else:
        config = make_config(NAME, options, video=False)
    tower = CLIPVisionModel._from_config(config, attn_implementation=options.attn_implementation)
    encoder = LanguageBindImageEncoder(tower, options, context.modality or "image")
    encoder.load_option_weights(options, context)
    return encoder


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            NAME, LanguageBindImageOptions, build, ("image",),
            "LanguageBind_Image CLIP ViT (Video-LLaVA's image tower), local weights",
        )
    ]
