"""multimodal_lm.py

`MultimodalLM`: encoders (one per modality) -> projector(s) -> LLM, Video-LLaVA style.

Input convention: ``input_ids`` hold ONE placeholder token per media item (ids in
``config.placeholder_ids``); ``media={"image": (N_img, 3, H, W), "video": (N_vid, T, 3, H, W)}`` hold the
items in order of appearance across the batch (``images=`` / ``videos=`` are shortcuts). Each item's
projected tokens replace its placeholder; logits cover the expanded sequence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from mmbind.errors import InputError
from mmbind.interfaces import Encoder, LLMBackend, Projector
from mmbind.model.config import MultimodalConfig
from mmbind.model.loss import next_token_loss
from mmbind.model.outputs import MultimodalOutput
from mmbind.model.splice import Spliced, splice

SHARED = "shared"  # key of the single projector when ``projector.shared`` is true


class MultimodalLM(nn.Module):
    """A vision-language model assembled from plugin parts."""

    def __init__(
        self,
        config: MultimodalConfig,
        encoders: dict[str, Encoder],
        projectors: dict[str, Projector],
        llm: LLMBackend,
    ) -> None:
        super().__init__()
        self.config = config
        self.encoders = nn.ModuleDict(encoders)
        self.projectors = nn.ModuleDict(projectors)
        self.llm = llm

    # ----------------------------------------------------------------- encoding
    def projector_for(self, modality: str) -> Projector:
        """The projector that serves ``modality``."""
        key = SHARED if SHARED in self.projectors else modality
        return self.projectors[key]  # type: ignore[return-value]

    def encode(self, media: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Projected tokens ``(N, L', D_llm)`` for every modality present in ``media``."""
        out = {}
        for modality, pixels in media.items():
            encoder: Encoder = self.encoders[modality]  # type: ignore[assignment]
            tokens = encoder(pixels)
            out[modality] = self.projector_for(modality)(tokens)
        return out

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        media: dict[str, torch.Tensor] | None = None,
        images: torch.Tensor | None = None,
        videos: torch.Tensor | None = None,
    ) -> MultimodalOutput:
        """Logits over the expanded sequence, and the loss when ``labels`` are given."""
        spliced = self.prepare_inputs(input_ids, attention_mask, labels, media, images, videos)
        logits = self.llm(spliced.inputs_embeds, spliced.attention_mask, spliced.position_ids)
        loss = None if spliced.labels is None else next_token_loss(logits, spliced.labels)
        return MultimodalOutput(logits, spliced.attention_mask, loss, spliced.labels)

    def prepare_inputs(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        media: dict[str, torch.Tensor] | None = None,
        images: torch.Tensor | None = None,
        videos: torch.Tensor | None = None,
        padding_side: Literal["left", "right"] | None = None,
    ) -> Spliced:
        """Encode media and splice it into the text embeddings (what the LLM receives)."""
        media = self._collect_media(media, images, videos)
        self._check_text(input_ids, attention_mask, labels)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if padding_side is None:
            padding_side = "left" if bool((attention_mask[:, 0] == 0).any()) else "right"
        features = self.encode(media)
        embed = self.llm.input_embeddings()
        safe_ids = input_ids.clamp(0, embed.num_embeddings - 1)  # placeholders may lie outside the vocab
        text_embeds = embed(safe_ids)
        return splice(
            input_ids, text_embeds, attention_mask, features, self.config.placeholder_ids, labels, padding_side
        )

    # --------------------------------------------------------------- generation
    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        media: dict[str, torch.Tensor] | None = None,
        images: torch.Tensor | None = None,
        videos: torch.Tensor | None = None,
        max_new_tokens: int = 32,
        do_sample: bool = False,
        **generate_kwargs: Any,
    ) -> torch.Tensor:
        """Generate with a KV cache from a (left- or right-padded) batch; returns only the new tokens."""
        spliced = self.prepare_inputs(
            input_ids, attention_mask, None, media, images, videos, padding_side="left"
        )
        return self.llm.generate(
            spliced.inputs_embeds,
            spliced.attention_mask,
            max_new_tokens=max_new_tokens,
            do_sample=do_sample,
            **generate_kwargs,
        )

    # -------------------------------------------------------------- persistence
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config, safetensors weights and each part's artifacts into ``directory``."""
        from mmbind.model.persist import save_model

        return save_model(self, Path(directory))

    @classmethod
    def from_pretrained(cls, directory: str | Path, **kwargs: Any) -> "MultimodalLM":
        """Load a model written by `save_pretrained` (same as `mmbind.load_pretrained`)."""
        from mmbind.model.persist import load_model

        return load_model(Path(directory), **kwargs)

    # ------------------------------------------------------------------ checks
    def _collect_media(
        self,
        media: dict[str, torch.Tensor] | None,
        images: torch.Tensor | None,
        videos: torch.Tensor | None,
    ) -> dict[str, torch.Tensor]:
        merged = dict(media or {})
        for modality, value in (("image", images), ("video", videos)):
            if value is not None:
                if modality in merged:
                    raise InputError(f"{modality}s given twice (as media['{modality}'] and {modality}s=)")
                merged[modality] = value
        for modality, pixels in list(merged.items()):
            if modality not in self.encoders:
                known = ", ".join(self.encoders)
                raise InputError(f"media '{modality}': this model has no {modality} encoder (it has: {known})")
            if pixels is None or pixels.shape[0] == 0:
                del merged[modality]
                continue
            _check_shape(modality, pixels, self.encoders[modality].item_shape)  # type: ignore[arg-type]
        return merged

    @staticmethod
    def _check_text(
        input_ids: torch.Tensor, attention_mask: torch.Tensor | None, labels: torch.Tensor | None
    ) -> None:
        if input_ids.ndim != 2 or input_ids.dtype not in (torch.long, torch.int):
            raise InputError(
                f"input_ids: expected an integer tensor of shape (B, S), got {input_ids.dtype} "
                f"{tuple(input_ids.shape)}"
            )
        for name, other in (("attention_mask", attention_mask), ("labels", labels)):
            if other is not None and other.shape != input_ids.shape:
                raise InputError(
                    f"{name}: shape {tuple(other.shape)} differs from input_ids {tuple(input_ids.shape)}"
                )


def _check_shape(modality: str, pixels: torch.Tensor, item_shape: tuple[int | None, ...]) -> None:
    expected = ("N", *("T" if d is None else d for d in item_shape))
    ok = pixels.ndim == len(item_shape) + 1 and all(
        d is None or d == s for d, s in zip(item_shape, pixels.shape[1:])
    )
    if not ok or not pixels.is_floating_point():
        shown = ", ".join(str(d) for d in expected)
        raise InputError(
            f"{modality}: expected a float tensor of shape ({shown}), got {pixels.dtype} {tuple(pixels.shape)}"
        )
