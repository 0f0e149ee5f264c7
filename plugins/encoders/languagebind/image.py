"""image.py

The ``languagebind_image`` encoder: LanguageBind_Image's vision tower, which is a plain CLIP ViT (OpenCLIP
ViT-L/14 weights in transformers' `CLIPVisionModel` layout), as Video-LLaVA uses it for images.

``(N, 3, H, W) -> (N, P, D)``: the tokens of ``hidden_states[select_layer]`` (default -2, the output of the
second-to-last layer, before ``post_layernorm``), CLS dropped by default (256 tokens at 224 px). Weights
come from a local LanguageBind_Image checkpoint (``vision_model.*`` next to the text tower, which is
skipped) or a bare CLIPVisionModel state dict; the vision keys load strictly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from transformers import CLIPVisionConfig, CLIPVisionModel

from mmbind import EncoderEntry, hookimpl
from mmbind.checkpoints import read_state_dict
from mmbind.interfaces import BuildContext, Encoder
from mmbind.media import ImageTransform

from .presets import TowerOptions, hidden_index, make_config, restored_config
from .weights import load_tower_state

NAME = "languagebind_image"


class LanguageBindImageOptions(TowerOptions):
    """Options of the ``languagebind_image`` encoder."""

    keep_cls: bool = False  # keep the CLS token (Video-LLaVA drops it for images: 256 tokens)
    pad_to_square: bool = False  # preprocessing: pad to a square with the mean colour (Video-LLaVA's "pad")


class LanguageBindImageEncoder(Encoder):
    """A CLIP ViT returning one hidden layer's tokens for each image."""

    def __init__(self, tower: CLIPVisionModel, options: LanguageBindImageOptions, modality: str) -> None:
        super().__init__()
        self.tower = tower
        self.modality = modality
        self.layer = hidden_index(NAME, options.select_layer, tower.config.num_hidden_layers)
        self.keep_cls = options.keep_cls
        self.pad_to_square = options.pad_to_square
        if options.frozen:
            self.requires_grad_(False)

    @property
    def output_dim(self) -> int:
        return self.tower.config.hidden_size

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        size = self.tower.config.image_size
        return (3, size, size)

    def tokens_per_item(self, num_frames: int | None = None) -> int:
        config = self.tower.config
        return (config.image_size // config.patch_size) ** 2 + int(self.keep_cls)

    def media_transform(self) -> Callable[[Any], torch.Tensor]:
        return ImageTransform(size=self.tower.config.image_size, pad_to_square=self.pad_to_square)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        hidden = self.tower(pixel_values=pixels.to(self.tower.dtype), output_hidden_states=True).hidden_states
        tokens = hidden[self.layer]
        return tokens if self.keep_cls else tokens[:, 1:]

    def load_tower_state(
        self, state: dict[str, torch.Tensor], prefix: str | None = None, where: str = "checkpoint",
        ignore_others: bool = False,
    ) -> None:
        """Load the tower from ``state`` (see `weights.load_tower_state`)."""
        load_tower_state(self.tower, state, prefix, where, ignore_others)

    def save_artifacts(self, directory: Path) -> None:
        self.tower.config.save_pretrained(directory)


def build(options: LanguageBindImageOptions, context: BuildContext) -> LanguageBindImageEncoder:
    """Factory registered as ``languagebind_image``."""
    config: CLIPVisionConfig
    if context.artifacts_dir is not None:
        config = restored_config(context.artifacts_dir, options.attn_implementation)
    else:
        config = make_config(NAME, options, video=False)
    tower = CLIPVisionModel._from_config(config, attn_implementation=options.attn_implementation)
    encoder = LanguageBindImageEncoder(tower, options, context.modality or "image")
    if options.weights is not None and context.load_weights and context.artifacts_dir is None:
        encoder.load_tower_state(read_state_dict(options.weights), where=options.weights)
    return encoder


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            NAME, LanguageBindImageOptions, build, ("image",),
            "LanguageBind_Image CLIP ViT (Video-LLaVA's image tower), local weights",
        )
    ]
