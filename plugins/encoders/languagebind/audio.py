"""audio.py

The ``languagebind_audio`` encoder: LanguageBind_Audio's vision tower, a CLIP ViT-L/14 that reads a
3-channel log-mel spectrogram ``(3, num_mel_bins, target_length)`` = ``(3, 112, 1036)`` as a non-square
image, with LanguageBind's audio preprocessing (`audio_features.AudioTransform`).

Tower (LanguageBind's ``resize_pos``): the patch embedding is CLIP's 14 x 14 convolution; the position
embedding has ``(num_mel_bins // 14) * (target_length // 14) + 1`` rows (8 x 74 + 1 = 593), patches
numbered row-major over the (mel, time) grid after the class position. LanguageBind builds it once by
bicubic interpolation of the image tower's 16 x 16 grid and trains it; its checkpoints store the
593-row table, which loads as is. Everything else is transformers' `CLIPVisionModel` (``pre_layrnorm``,
``encoder.layers.N``, ``post_layernorm``) under LanguageBind's parameter names, so a LanguageBind_Audio /
LanguageBind_Audio_FT checkpoint (``vision_model.*`` next to the text tower and ``visual_projection``,
which are skipped) loads strictly.

``(N, 3, num_mel_bins, target_length) -> (N, P, D)``: the tokens of ``hidden_states[select_layer]``
(default -2), CLS dropped by default as ``languagebind_image``: 592 tokens, one frame of an 8 x 74
(mel x time) patch grid (`token_layout`). ``num_mel_bins`` and ``target_length`` are part of the tower's
config (saved with the model); the ``tiny`` preset uses 28 x 56 (2 x 4 patches).
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModel
from transformers.models.clip.modeling_clip import CLIPVisionEmbeddings

from mmbind import CheckpointError, EncoderEntry, InputError, PluginOptionsError, hookimpl
from mmbind.interfaces import BuildContext

from .audio_features import AUDIO_MEAN, AUDIO_STD, SAMPLE_RATE, AudioTransform
from .presets import TowerOptions, make_config, restored_config
from .still import StillTowerEncoder

NAME = "languagebind_audio"
SPECTROGRAM = {"vit_l_14": (112, 1036), "tiny": (28, 56)}  # (num_mel_bins, target_length) per preset


class LanguageBindAudioOptions(TowerOptions):
    """Options of the ``languagebind_audio`` encoder."""

    keep_cls: bool = False  # keep the CLS token (dropped by default, as languagebind_image: 592 tokens)
    num_mel_bins: int | None = Field(None, ge=4)  # spectrogram height; None: the preset's (112)
    target_length: int | None = Field(None, ge=1)  # frames per chunk (width); None: the preset's (1036)
    sample_rate: int = Field(SAMPLE_RATE, gt=0)  # Hz the waveform is resampled to before the filterbank
    # normalisation: (mel - audio_mean) / (2 * audio_std)
    audio_mean: float = Field(AUDIO_MEAN, allow_inf_nan=False)
    audio_std: float = Field(AUDIO_STD, gt=0.0, allow_inf_nan=False)
    chunks: Literal["fixed", "random"] = "fixed"  # long audio: each third's first start, or random (upstream)


class SpectrogramEmbeddings(CLIPVisionEmbeddings):
    """CLIP's class + patch + position embeddings on a ``num_mel_bins x target_length`` input."""

    def __init__(self, config: CLIPVisionConfig) -> None:
        super().__init__(config)
        self.input_size = (int(config.num_mel_bins), int(config.target_length))
        self.grid = (self.input_size[0] // self.patch_size, self.input_size[1] // self.patch_size)
        self.num_patches = self.grid[0] * self.grid[1]
        self.num_positions = self.num_patches + 1
        self.position_embedding = nn.Embedding(self.num_positions, self.embed_dim)
        self.position_ids = nn.Buffer(torch.arange(self.num_positions).expand((1, -1)), persistent=False)

    def forward(
        self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool | None = False
    ) -> torch.Tensor:
        if tuple(pixel_values.shape[-2:]) != self.input_size:
            mel_bins, frames = self.input_size
            raise InputError(
                f"{NAME}: expected spectrograms of {mel_bins} mel bins x {frames} frames, "
                f"got {tuple(pixel_values.shape[-2:])}"
            )
        patches = self.patch_embedding(pixel_values.to(self.patch_embedding.weight.dtype))  # (N, D, gh, gw)
        patches = patches.flatten(2).transpose(1, 2)  # row-major over (mel, time)
        cls = self.class_embedding.expand(patches.shape[0], 1, -1)
        return torch.cat([cls, patches], dim=1) + self.position_embedding(self.position_ids)


class LanguageBindAudioTower(CLIPVisionModel):
    """transformers' `CLIPVisionModel` with `SpectrogramEmbeddings` (same parameter names)."""

    def __init__(self, config: CLIPVisionConfig) -> None:
        super().__init__(config)
        self.embeddings = SpectrogramEmbeddings(config)
        self._init_weights(self.embeddings)  # CLIP's initialisation of the replaced embeddings


class LanguageBindAudioEncoder(StillTowerEncoder):
    """LanguageBind's audio tower returning one hidden layer's tokens for each spectrogram."""

    def __init__(
        self, tower: LanguageBindAudioTower, options: LanguageBindAudioOptions, modality: str
    ) -> None:
        config = tower.config
        transform = AudioTransform(
            num_mel_bins=int(config.num_mel_bins), target_length=int(config.target_length),
            sample_rate=options.sample_rate, audio_mean=options.audio_mean, audio_std=options.audio_std,
            chunks=options.chunks,
        )
        super().__init__(tower, options, options.keep_cls, NAME, modality, transform)

    @property
    def item_shape(self) -> tuple[int | None, ...]:
        return (3, *self.tower.embeddings.input_size)

    def patch_grid(self) -> tuple[int, int]:
        """``(num_mel_bins // patch, target_length // patch)``: mel rows by time columns (8 x 74)."""
        rows, cols = self.tower.embeddings.grid
        return int(rows), int(cols)


def audio_config(options: LanguageBindAudioOptions) -> CLIPVisionConfig:
    """The preset's tower config with its spectrogram size (options override), validated."""
    mel_bins, length = SPECTROGRAM[options.preset]
    mel_bins = options.num_mel_bins or mel_bins
    length = options.target_length or length
    config = make_config(NAME, options, video=False, num_mel_bins=mel_bins, target_length=length)
    if mel_bins < config.patch_size or length < config.patch_size:
        raise PluginOptionsError(
            f"{NAME}: a {mel_bins} x {length} spectrogram holds no {config.patch_size} x {config.patch_size} "
            "patch (num_mel_bins and target_length must be at least patch_size)"
        )
    return config


def build(options: LanguageBindAudioOptions, context: BuildContext) -> LanguageBindAudioEncoder:
    """Factory registered as ``languagebind_audio``."""
    if context.artifacts_dir is not None:
        config = restored_config(context.artifacts_dir, options.attn_implementation)
        missing = [k for k in ("num_mel_bins", "target_length") if not getattr(config, k, None)]
        if missing:
            where = context.artifacts_dir / "config.json"
            raise CheckpointError(f"{where}: not a {NAME} tower config (no {', '.join(missing)})")
    else:
        config = audio_config(options)
    tower = LanguageBindAudioTower._from_config(config, attn_implementation=options.attn_implementation)
    encoder = LanguageBindAudioEncoder(tower, options, context.modality or "audio")
    encoder.load_option_weights(options, context)
    return encoder


@hookimpl
def mmbind_encoders() -> list[EncoderEntry]:
    return [
        EncoderEntry(
            NAME, LanguageBindAudioOptions, build, ("audio",),
            "LanguageBind_Audio CLIP ViT on 112 x 1036 log-mel spectrograms (kaldi fbank), local weights",
        )
    ]
