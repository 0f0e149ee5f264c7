"""resampler.py

The ``resampler`` projector: a small perceiver resampler (Flamingo, Qwen-VL). ``num_queries`` learned
queries per item attend over the item's tokens, so every item, image or video of any length, becomes
exactly ``num_queries`` LLM tokens.

``(N, L, D_in)`` tokens -> Linear to the inner width ``W`` (keys / values) -> ``depth`` blocks of
cross-attention (``heads`` heads) of the queries over them plus a GELU MLP, pre-LayerNorm and residual
(`resampler_block`) -> LayerNorm -> Linear to the LLM width: ``(N, num_queries, D_out)``.

Worked example (LanguageBind video, 8 frames of 257 tokens = 2056 tokens): 64 tokens with the default
``num_queries: 64``; a LanguageBind image (256 tokens): 64 tokens too. No layout is needed (any encoder).

The queries carry no position of their own and the keys get none added: the output does not change when
an item's tokens are permuted, so token order reaches it only through the encoder's features (which carry
their position and time embeddings). ``heads`` must divide the inner width (``width``, default the LLM
width).
"""

from __future__ import annotations

import torch
from pydantic import Field, model_validator
from torch import nn

from mmbind import PluginOptionsError, ProjectorEntry, hookimpl
from mmbind.interfaces import BuildContext, Projector, TokenLayout
from mmbind.recipe.strict import StrictModel
from mmbind_plugins.projectors.resampler_block import ResamplerBlock

NAME = "resampler"


class ResamplerOptions(StrictModel):
    """Options of the ``resampler`` projector."""

    num_queries: int = Field(64, ge=1, description="learned queries per item = LLM tokens per item")
    depth: int = Field(1, ge=1, description="cross-attention + MLP blocks")
    heads: int = Field(8, ge=1, description="attention heads; must divide the inner width")
    width: int | None = Field(None, ge=1, description="inner width; None: the LLM's hidden size")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> ResamplerOptions:
        if self.width is not None and self.width % self.heads:
            raise ValueError(f"heads {self.heads} does not divide width {self.width}")
        return self


class ResamplerProjector(Projector):
    """``num_queries`` learned queries cross-attending over each item's tokens."""

    def __init__(self, in_dim: int, out_dim: int, options: ResamplerOptions) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        width = options.width or out_dim
        if width % options.heads:
            raise PluginOptionsError(
                f"{NAME}: options.heads {options.heads} does not divide the inner width {width} "
                "(options.width, by default the LLM's hidden size)"
            )
        self.num_queries = options.num_queries
        self.queries = nn.Parameter(torch.randn(options.num_queries, width) * 0.02)
        self.context = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(ResamplerBlock(width, options.heads) for _ in range(options.depth))
        self.norm_out = nn.LayerNorm(width)
        self.out = nn.Linear(width, out_dim)

    def output_tokens(self, num_tokens: int, layout: TokenLayout | None = None) -> int:
        return self.num_queries

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(N, L, D_in)`` to ``(N, num_queries, D_out)``."""
        context = self.context(tokens)
        latents = self.queries.to(context.dtype).expand(len(tokens), -1, -1)
        for block in self.blocks:
            latents = block(latents, context)
        return self.out(self.norm_out(latents))


def build(options: ResamplerOptions, in_dim: int, out_dim: int, context: BuildContext) -> ResamplerProjector:
    """Factory registered as ``resampler`` (the same projector whichever modality ``context`` names)."""
    return ResamplerProjector(in_dim, out_dim, options)


@hookimpl
def mmbind_projectors() -> list[ProjectorEntry]:
    return [
        ProjectorEntry(NAME, ResamplerOptions, build,
                       "perceiver resampler: num_queries learned queries attend over each item's tokens")
    ]
