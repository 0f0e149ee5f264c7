"""video_tower.py

LanguageBind's video tower: a CLIP ViT whose every layer first attends across frames, then within each
frame (TimeSformer-style divided attention, no temporal MLP).

Per layer, on hidden states ``(N*T, n, D)`` (frames of a video consecutive, CLS first in every frame):

1. add ``temporal_embedding`` (1, T, D) to every token of frame t (skipped for a single frame, as upstream);
2. ``x + temporal_attn(temporal_layer_norm1(x))`` where attention runs across the T frames for each of the
   n token positions (CLS included);
3. the usual CLIP block: ``x + self_attn(layer_norm1(x))``, ``x + mlp(layer_norm2(x))``.

Parameter names are the original ones (``embeddings.*``, ``pre_layrnorm``, ``encoder.layers.N.{self_attn,
layer_norm1, mlp, layer_norm2, temporal_embedding, temporal_attn, temporal_layer_norm1}``,
``post_layernorm``), so LanguageBind_Video_merge loads strictly. The building blocks are transformers'
`CLIPVisionEmbeddings`, `CLIPAttention` and `CLIPMLP`.

Frame count: the checkpoint's embedding has ``config.num_frames`` rows (8). Upstream only supports that
many (it slices ``[:, :T]``). Here any T works: for ``T != num_frames`` the embedding is linearly
interpolated along the frame axis with ``align_corners=True`` (first and last rows kept, T = 2k-1 hits
the original rows at even positions); ``T == num_frames`` uses it unchanged.

Chunked encoding (``chunk_frames``, bounded activation memory for long videos, same output): nothing is
split into frame groups *before* temporal attention (that would change what frames see). Instead each step
runs in slices along the axis it is independent of: the patch embedding + ``pre_layrnorm`` and every
layer's spatial attention + MLP over groups of ``chunk_frames`` frames (of all items, flattened ``N*T``);
every layer's temporal embedding + temporal attention over groups of token positions, each with all T
frames of every item, sized to about the same number of tokens (``chunk_frames * n // (N*T)`` positions,
at least one). Chunk results are written into one preallocated output (`in_chunks`), or concatenated when
gradients are needed, so backward works as usual.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import CLIPVisionConfig
from transformers.models.clip.modeling_clip import CLIPMLP, CLIPAttention, CLIPVisionEmbeddings

from mmbind import InputError
from mmbind.interfaces.encoder_helpers import in_chunks


def resample_frames(embedding: torch.Tensor, frames: int) -> torch.Tensor:
    """``(1, T0, D)`` embedding resampled to ``frames`` rows (linear, align_corners=True; as is if equal)."""
    if embedding.shape[1] == frames:
        return embedding
    rows = embedding.float().transpose(1, 2)  # (1, D, T0): interpolate along the frame axis
    resampled = F.interpolate(rows, size=frames, mode="linear", align_corners=True)
    return resampled.transpose(1, 2).to(embedding.dtype)


class TemporalEncoderLayer(nn.Module):
    """One LanguageBind video layer: temporal attention across frames, then CLIP's spatial block."""

    def __init__(self, config: CLIPVisionConfig) -> None:
        super().__init__()
        width, eps = config.hidden_size, config.layer_norm_eps
        self.temporal_embedding = nn.Parameter(torch.zeros(1, config.num_frames, width))
        self.temporal_layer_norm1 = nn.LayerNorm(width, eps=eps)
        self.temporal_attn = CLIPAttention(config)
        self.self_attn = CLIPAttention(config)
        self.layer_norm1 = nn.LayerNorm(width, eps=eps)
        self.mlp = CLIPMLP(config)
        self.layer_norm2 = nn.LayerNorm(width, eps=eps)

    def forward(self, hidden: torch.Tensor, frames: int, chunk_frames: int | None = None) -> torch.Tensor:
        """``(N*T, n, D) -> (N*T, n, D)`` with ``T = frames``; ``chunk_frames`` bounds the activations (see
        the module docstring), None or 0 runs each step on everything at once."""
        _, tokens, width = hidden.shape
        video = hidden.view(-1, frames, tokens, width)  # (N, T, n, D)
        embedding = None if frames == 1 else resample_frames(self.temporal_embedding, frames).unsqueeze(2)
        positions = None
        if chunk_frames:  # token positions per temporal slice: about chunk_frames frames' worth of tokens
            positions = max(1, chunk_frames * tokens // hidden.shape[0])

        def temporal(part: torch.Tensor) -> torch.Tensor:  # (N, T, k, D): k token positions, all frames
            if embedding is not None:
                part = part + embedding
            items, _, count, _ = part.shape
            across = part.transpose(1, 2).reshape(-1, frames, width)  # (N*k, T, D)
            attended, _ = self.temporal_attn(self.temporal_layer_norm1(across))
            return part + attended.view(items, count, frames, width).transpose(1, 2)

        hidden = in_chunks(temporal, video, positions, dim=2).reshape(-1, tokens, width)
        return in_chunks(self.spatial, hidden, chunk_frames)

    def spatial(self, hidden: torch.Tensor) -> torch.Tensor:
        """CLIP's block within each frame, ``(F, n, D) -> (F, n, D)``: frames are independent here."""
        attended, _ = self.self_attn(self.layer_norm1(hidden))
        hidden = hidden + attended
        return hidden + self.mlp(self.layer_norm2(hidden))


class TemporalEncoder(nn.Module):
    """The stack of layers (a module of its own so parameter names read ``encoder.layers.N``)."""

    def __init__(self, config: CLIPVisionConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TemporalEncoderLayer(config) for _ in range(config.num_hidden_layers))


class LanguageBindVideoTower(nn.Module):
    """Videos ``(N, T, 3, H, W)`` to the hidden states of the chosen layer, ``(N*T, 1+P, D)``."""

    def __init__(self, config: CLIPVisionConfig) -> None:
        super().__init__()
        if getattr(config, "_attn_implementation", None) is None:
            config._attn_implementation = "eager"  # CLIPAttention looks the kernel up on the config
        self.config = config
        self.embeddings = CLIPVisionEmbeddings(config)
        self.pre_layrnorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)  # original spelling
        self.encoder = TemporalEncoder(config)
        self.post_layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)  # pooled only
        initialise(self)

    @property
    def dtype(self) -> torch.dtype:
        return self.pre_layrnorm.weight.dtype

    def forward(
        self, videos: torch.Tensor, layer: int | None = None, chunk_frames: int | None = None
    ) -> torch.Tensor:
        """``hidden_states[layer]`` as transformers counts them: 0 = embeddings after ``pre_layrnorm``,
        L = output of the last layer (the default); later layers are not run. ``chunk_frames``: run in
        slices of about that many frames' tokens (same output, bounded activations; None or 0: at once)."""
        if videos.ndim != 5:
            raise InputError(f"LanguageBind video tower: expected (N, T, 3, H, W), got {tuple(videos.shape)}")
        if chunk_frames is not None and chunk_frames < 0:
            raise ValueError(f"LanguageBind video tower: chunk_frames must be >= 0, got {chunk_frames}")
        frames = videos.shape[1]
        hidden = in_chunks(self.embed, videos.flatten(0, 1), chunk_frames)
        stop = len(self.encoder.layers) if layer is None else layer
        for block in self.encoder.layers[:stop]:
            hidden = block(hidden, frames, chunk_frames)
        return hidden

    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        """``(F, 3, H, W)`` frames to ``pre_layrnorm``-ed embeddings ``(F, 1+P, D)`` in the tower's dtype."""
        return self.pre_layrnorm(self.embeddings(frames.to(self.dtype)))


@torch.no_grad()
def initialise(tower: LanguageBindVideoTower) -> None:
    """CLIP's initialisation scheme, plus LanguageBind's for the temporal parts (embedding std D^-0.5)."""
    config = tower.config
    width, factor = config.hidden_size, config.initializer_factor
    depth_scale = (2 * config.num_hidden_layers) ** -0.5
    nn.init.normal_(tower.embeddings.class_embedding, std=width**-0.5 * factor)
    nn.init.normal_(tower.embeddings.patch_embedding.weight, std=config.initializer_range * factor)
    nn.init.normal_(tower.embeddings.position_embedding.weight, std=config.initializer_range * factor)
    for layer in tower.encoder.layers:
        nn.init.normal_(layer.temporal_embedding, std=width**-0.5)
        for attention in (layer.self_attn, layer.temporal_attn):
            for proj in (attention.q_proj, attention.k_proj, attention.v_proj):
                nn.init.normal_(proj.weight, std=width**-0.5 * depth_scale * factor)
            nn.init.normal_(attention.out_proj.weight, std=width**-0.5 * factor)
        nn.init.normal_(layer.mlp.fc1.weight, std=(2 * width) ** -0.5 * factor)
        nn.init.normal_(layer.mlp.fc2.weight, std=width**-0.5 * depth_scale * factor)
    for module in tower.modules():
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
