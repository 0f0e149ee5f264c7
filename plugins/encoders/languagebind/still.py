"""still.py

`StillTowerEncoder`: what the single-item LanguageBind towers share (``languagebind_image``, ``_depth``,
``_thermal``): a plain CLIP ViT (transformers' `CLIPVisionModel`) returning one hidden layer's tokens per
item, CLS dropped unless kept (`token_layout`: one frame, the CLS token if kept, then the square
``image_size // patch_size`` patch grid row-major); each plugin gives only its preprocessing
(``transform``). `build_still` builds one from options or from a saved model's artifacts and loads its
weights strictly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from mmbind.interfaces import BuildContext
from mmbind.interfaces.encoder_helpers import drop_cls, pixel_shape

from .base import TowerEncoder
from .presets import TowerOptions, make_config, restored_config

if TYPE_CHECKING:
    from transformers import CLIPVisionConfig, CLIPVisionModel


class StillTowerEncoder(TowerEncoder):
    """A CLIP ViT returning one hidden layer's tokens for each item ``(3, H, W)``."""

    def __init__(self, tower: CLIPVisionModel, options: TowerOptions, keep_cls: bool, plugin: str,
                 modality: str, transform: Callable[[Any], torch.Tensor]) -> None:
        super().__init__(tower, options, keep_cls, plugin, modality)
        self.transform = transform

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        return pixel_shape(self.tower.config.image_size, video=False)

    def tokens_per_item(self, num_frames: int | None = None) -> int:
        return self.tokens_per_frame()

    def media_transform(self) -> Callable[[Any], torch.Tensor]:
        return self.transform

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        hidden = self.tower(pixel_values=pixels.to(self.tower.dtype), output_hidden_states=True).hidden_states
        return drop_cls(hidden[self.layer], self.keep_cls)


E = TypeVar("E", bound=StillTowerEncoder)


def build_still(cls: Callable[[CLIPVisionModel, Any, str], E], plugin: str, options: TowerOptions,
                context: BuildContext, default_modality: str) -> E:
    """``cls(tower, options, modality)`` on a tower built from ``options`` (or restored from the saved
    config), with ``options.weights`` loaded strictly."""
    from transformers import CLIPVisionModel

    config: CLIPVisionConfig
    if context.artifacts_dir is not None:
        config = restored_config(context.artifacts_dir, options.attn_implementation)
    else:
        config = make_config(plugin, options, video=False)
    tower = CLIPVisionModel._from_config(config, attn_implementation=options.attn_implementation)
    encoder = cls(tower, options, context.modality or default_modality)
    encoder.load_option_weights(options, context)
    return encoder
