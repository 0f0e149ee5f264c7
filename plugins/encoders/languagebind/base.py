"""base.py

`TowerEncoder`: what every LanguageBind encoder shares (image, video, depth, thermal, audio). A tower with a
CLIP vision config (``tower.config``) returns the tokens of one ``hidden_states`` layer, with or without
each frame's CLS token (`token_layout`: per frame the CLS token if kept, then its patch grid row-major); it
is frozen by default, its weights load strictly from LanguageBind's checkpoint layouts
(`weights.load_tower_state`; for the converters `load_original_state`, and `original_tower` gives the tower
as it is), and its config is the artifact saved with a model.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mmbind.interfaces import BuildContext, Encoder, OriginalTower, TokenLayout
from mmbind.weightfiles import read_state_dict

from .presets import TowerOptions, hidden_index
from .weights import load_tower_state


class TowerEncoder(Encoder):
    """Base of the LanguageBind encoders; subclasses add the item shape, token count, transform, forward."""

    def __init__(
        self, tower: nn.Module, options: TowerOptions, keep_cls: bool, plugin: str, modality: str
    ) -> None:
        super().__init__()
        self.tower = tower
        self.modality = modality
        self.layer = hidden_index(plugin, options.select_layer, tower.config.num_hidden_layers)
        self.keep_cls = keep_cls
        if options.frozen:
            self.requires_grad_(False)

    @property
    def output_dim(self) -> int:
        return self.tower.config.hidden_size

    def patch_grid(self) -> tuple[int, int]:
        """Patch rows and columns of one image / frame (a square grid of ``image_size // patch_size``)."""
        config = self.tower.config
        side = config.image_size // config.patch_size
        return side, side

    def tokens_per_frame(self) -> int:
        """Patch tokens of one image / frame, plus its CLS token when kept."""
        rows, cols = self.patch_grid()
        return rows * cols + int(self.keep_cls)

    def token_layout(self, num_tokens: int) -> TokenLayout | None:
        """Whole frames of ``int(keep_cls)`` CLS token then the `patch_grid`, frame-major (an image or a
        spectrogram is one frame); None when ``num_tokens`` is not whole frames."""
        return TokenLayout.of(num_tokens, int(self.keep_cls), *self.patch_grid())

    def load_tower_state(
        self, state: dict[str, torch.Tensor], prefix: str | None = None, where: str = "checkpoint",
        ignore_others: bool = False,
    ) -> None:
        """Load the tower from ``state``: prefix None detects ``vision_model.`` or bare names; for a copy
        inside a bigger checkpoint (Video-LLaVA-7B) pass its prefix and ``ignore_others=True``."""
        load_tower_state(self.tower, state, prefix, where, ignore_others)

    def original_tower(self) -> OriginalTower:
        """The tower under its own (CLIP ViT) names, its config, the hidden layer read and the CLS choice."""
        return OriginalTower(self.tower.config, self.layer, self.keep_cls, self.tower.state_dict())

    def load_original_state(self, state: dict[str, torch.Tensor], where: str) -> None:
        """`load_tower_state` from a LanguageBind checkpoint or a bare tower (the prefix detected)."""
        self.load_tower_state(state, where=where)

    def load_option_weights(self, options: TowerOptions, context: BuildContext) -> None:
        """Load ``options.weights`` on a fresh build that wants weights (a restored model has its own)."""
        if options.weights is not None and context.load_weights and context.artifacts_dir is None:
            self.load_tower_state(read_state_dict(options.weights), where=options.weights)

    def save_artifacts(self, directory: Path) -> None:
        self.tower.config.save_pretrained(directory)
