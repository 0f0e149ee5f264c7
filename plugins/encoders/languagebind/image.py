"""image.py

The ``languagebind_image`` encoder: LanguageBind_Image's vision tower, which is a plain CLIP ViT (OpenCLIP
ViT-L/14 weights in transformers' `CLIPVisionModel` layout), as Video-LLaVA uses it for images.

``(N, 3, H, W) -> (N, P, D)``: the tokens of ``hidden_states[select_layer]`` (default -2, the output of the
second-to-last layer, before ``post_layernorm``), CLS dropped by default (256 tokens at 224 px). Weights
come from a local LanguageBind_Image checkpoint (``vision_model.*`` next to the text tower, which is
skipped) or a bare CLIPVisionModel state dict; the vision keys load strictly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmbind import EncoderEntry, hookimpl
from mmbind.interfaces import BuildContext
from mmbind.media import ImageTransform

from .presets import TowerOptions
from .still import StillTowerEncoder, build_still

if TYPE_CHECKING:
    from transformers import CLIPVisionModel

NAME = "languagebind_image"


class LanguageBindImageOptions(TowerOptions):
    """Options of the ``languagebind_image`` encoder."""

    keep_cls: bool = False  # keep the CLS token (Video-LLaVA drops it for images: 256 tokens)
    pad_to_square: bool = False  # preprocessing: pad to a square with the mean colour (Video-LLaVA's "pad")


class LanguageBindImageEncoder(StillTowerEncoder):
    """A CLIP ViT returning one hidden layer's tokens for each image."""

    def __init__(self, tower: CLIPVisionModel, options: LanguageBindImageOptions, modality: str) -> None:
        size = tower.config.image_size
        super().__init__(tower, options, options.keep_cls, NAME, modality,
                         ImageTransform(size=size, pad_to_square=options.pad_to_square))


def build(options: LanguageBindImageOptions, context: BuildContext) -> LanguageBindImageEncoder:
    """Factory registered as ``languagebind_image``."""
    return build_still(LanguageBindImageEncoder, NAME, options, context, "image")


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            NAME, LanguageBindImageOptions, build, ("image",),
            "LanguageBind_Image CLIP ViT (Video-LLaVA's image tower), local weights",
        )
    ]
