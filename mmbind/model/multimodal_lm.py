"""multimodal_lm.py

`MultimodalLM`: encoders (one per modality) -> projector(s) -> LLM, Video-LLaVA style.

Input convention: ``input_ids`` hold ONE placeholder token per media item (ids in ``config.placeholder_ids``);
``media={"image": (N_img, 3, H, W), "video": (N_vid, T, 3, H, W)}`` hold the items in order of appearance
across the batch (a list of per-item tensors where their shapes differ, e.g. videos sampled by frame rate:
`mmbind.model.media_items`) (``images=`` / ``videos=`` are shortcuts). Each item's projected tokens replace
its placeholder; logits cover the expanded sequence.

Training calls the same ``forward`` (through `mmbind.train.forward.TrainForward`, which adds only what
distribution needs): with encoder outputs from the feature cache (``features``), packed rows
(``position_ids``), logits only where supervised (``logits_to_keep``) and a summed loss with its token count.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from mmbind.errors import InputError
from mmbind.interfaces import Encoder, LLMBackend, Projector
from mmbind.model.config import MultimodalConfig
from mmbind.model.loss import next_token_loss, supervised_count, supervised_positions
from mmbind.model.media_items import MediaItems, item_count, item_groups, stack_items, unstack
from mmbind.model.outputs import MultimodalOutput
from mmbind.model.parts import SHARED
from mmbind.model.persist import load_weights_from, restore_parts, save_model
from mmbind.model.splice import Spliced, splice
from mmbind.registry import Registry

# (modality, fresh frozen-encoder outputs (n, L, D), their slots among the pixel items) -> the outputs used
OnEncoded = Callable[[str, torch.Tensor, list[int]], torch.Tensor]


@dataclass
class CachedFeatures:
    """Encoder outputs of some of a modality's items, computed earlier (e.g. by the training feature
    cache)."""

    tokens: MediaItems  # (n, L, D) encoder outputs, or n tensors (L_i, D) when their lengths differ
    slots: torch.Tensor  # (n,) their positions among the modality's items (order of appearance)

    def merge(self, fresh: MediaItems | None, dtype: torch.dtype) -> MediaItems:
        """All items' encoder outputs: these at their slots, ``fresh`` ones (in order) in the others."""
        count = len(self.slots) + (0 if fresh is None else item_count(fresh))
        if isinstance(self.tokens, torch.Tensor) and (
            fresh is None or (isinstance(fresh, torch.Tensor) and fresh.shape[1:] == self.tokens.shape[1:])
        ):
            merged = self.tokens.new_empty((count, *self.tokens.shape[1:]), dtype=dtype)
            merged[self.slots] = self.tokens.to(dtype)
            if fresh is not None:
                others = torch.ones(count, dtype=torch.bool, device=merged.device)
                others[self.slots] = False
                merged[others] = fresh.to(dtype)
            return merged
        items: list[torch.Tensor | None] = [None] * count
        for slot, tokens in zip(self.slots.tolist(), unstack(self.tokens)):
            items[slot] = tokens.to(dtype)
        remaining = iter(unstack(fresh) if fresh is not None else [])
        filled = [t if t is not None else next(remaining).to(dtype) for t in items]
        return stack_items(filled)


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

    def item_tokens(self, modality: str, num_frames: int | None = None) -> int:
        """LLM tokens one item of ``modality`` (with ``num_frames`` frames) becomes: the encoder's tokens,
        after its projector (which may compress them by their layout)."""
        encoder: Encoder = self.encoders[modality]  # type: ignore[assignment]
        tokens = encoder.tokens_per_item(num_frames)
        return self.projector_for(modality).output_tokens(tokens, encoder.token_layout(tokens))

    def encode(
        self, media: dict[str, MediaItems], features: dict[str, CachedFeatures] | None = None,
        on_encoded: OnEncoded | None = None,
    ) -> dict[str, MediaItems]:
        """Projected tokens ``(N, L', D_llm)`` for every modality present in ``media`` or ``features`` (a list
        of ``(L'_i, D_llm)`` when items differ in length, e.g. videos of different frame counts).

        ``media[modality]``: ``(N, *item)`` or a list of per-item tensors (`mmbind.model.media_items`;
        items of one shape are encoded together). ``features[modality]`` holds encoder outputs computed
        earlier (the training feature cache) at their slots among the modality's items; ``media[modality]``
        then holds the other items, in order. A frozen encoder (no parameter requiring a gradient) runs
        under ``no_grad``, and ``on_encoded(modality, tokens, slots)`` receives its fresh outputs with their
        positions among the pixel items and returns what is used (the training cache stores them).
        """
        features = features or {}
        out = {}
        for modality in [*media, *(m for m in features if m not in media)]:
            encoder: Encoder = self.encoders[modality]  # type: ignore[assignment]
            projector = self.projector_for(modality)
            tokens = self._encoded(modality, media[modality], on_encoded) if modality in media else None
            known = features.get(modality)
            if known is not None:
                tokens = known.merge(tokens, _dtype_for(projector, tokens))
            assert tokens is not None
            parts = [(slots, projector.project(group, encoder.token_layout(group.shape[1])))
                     for slots, group in item_groups(tokens)]
            out[modality] = _gather(parts, item_count(tokens))
        return out

    def _encoded(self, modality: str, pixels: MediaItems, on_encoded: OnEncoded | None) -> MediaItems:
        """Encoder outputs of ``pixels``, one batched call per item shape."""
        encoder: Encoder = self.encoders[modality]  # type: ignore[assignment]
        frozen = not any(p.requires_grad for p in encoder.parameters())
        parts = []
        for slots, group in item_groups(pixels):
            with torch.no_grad() if frozen else contextlib.nullcontext():
                tokens = encoder(group)
            if frozen and on_encoded is not None:
                tokens = on_encoded(modality, tokens, slots)
            parts.append((slots, tokens))
        return _gather(parts, item_count(pixels))

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        media: dict[str, MediaItems] | None = None,
        images: torch.Tensor | None = None,
        videos: MediaItems | None = None,
        *,
        features: dict[str, CachedFeatures] | None = None,
        position_ids: torch.Tensor | None = None,
        logits_to_keep: torch.Tensor | Literal["supervised"] | None = None,
        loss_reduction: Literal["mean", "sum", "none"] = "mean",
        on_encoded: OnEncoded | None = None,
        embeds_anchor: torch.Tensor | None = None,
        projected: dict[str, MediaItems] | None = None,
    ) -> MultimodalOutput:
        """Logits over the expanded sequence, and the loss (with its token count) when ``labels`` are given.

        ``features`` / ``on_encoded``: see `encode`. ``position_ids`` ``(B, S')`` over the expanded sequence
        mark packed rows (samples back to back, positions restarting per sample): the LLM then gets no 2-D
        mask and builds a block-diagonal causal one. ``logits_to_keep``: positions whose logits are computed
        (1-D indices), or ``"supervised"``: only where a next-token label is supervised (training).
        ``loss_reduction="sum"``: the summed loss (training divides by the token count of the whole step);
        ``"none"``: each kept position's loss (preference training sums each answer's).
        ``embeds_anchor``: a zero-valued scalar added to the LLM's input (distributed training adds the
        trainable parts this batch does not use, so every rank's backward touches the same parameters).
        ``projected``: the items' projected tokens, already computed (`encode`), in place of ``media``
        (preference training encodes a pair's media once for both its answers).
        """
        spliced = self.prepare_inputs(input_ids, attention_mask, labels, media, images, videos,
                                      features=features, on_encoded=on_encoded, projected=projected)
        embeds, mask, positions = spliced.inputs_embeds, spliced.attention_mask, spliced.position_ids
        if position_ids is not None:
            mask, positions = None, position_ids
        if embeds_anchor is not None:
            embeds = embeds + embeds_anchor.to(embeds.dtype)
        keep = logits_to_keep
        if isinstance(keep, str):
            if keep != "supervised" or spliced.labels is None:
                raise InputError(f"logits_to_keep: {keep!r} needs labels and is 'supervised' or index tensor")
            keep = supervised_positions(spliced.labels)
        logits = self.llm(embeds, mask, positions, logits_to_keep=keep)
        if spliced.labels is None:
            return MultimodalOutput(logits, spliced.attention_mask)
        loss = next_token_loss(logits, spliced.labels, keep, loss_reduction)
        return MultimodalOutput(logits, spliced.attention_mask, loss, spliced.labels,
                                supervised_count(spliced.labels))

    def prepare_inputs(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        media: dict[str, MediaItems] | None = None,
        images: torch.Tensor | None = None,
        videos: MediaItems | None = None,
        padding_side: Literal["left", "right"] | None = None,
        *,
        features: dict[str, CachedFeatures] | None = None,
        on_encoded: OnEncoded | None = None,
        projected: dict[str, MediaItems] | None = None,
    ) -> Spliced:
        """Encode media (unless ``projected`` gives their projected tokens) and splice it into the text
        embeddings (what the LLM receives)."""
        media = self._collect_media(media, images, videos)
        self._check_text(input_ids, attention_mask, labels)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if padding_side is None:
            padding_side = "left" if bool((attention_mask[:, 0] == 0).any()) else "right"
        for modality in features or {}:
            if modality not in self.encoders:
                raise InputError(f"features '{modality}': this model has no {modality} encoder")
        if projected is None:
            projected = self.encode(media, features, on_encoded)
        embed = self.llm.input_embeddings()
        safe_ids = input_ids.clamp(0, embed.num_embeddings - 1)  # placeholders may lie outside the vocab
        text_embeds = embed(safe_ids)
        return splice(
            input_ids, text_embeds, attention_mask, projected, self.config.placeholder_ids, labels,
            padding_side,
        )

    # --------------------------------------------------------------- generation
    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        media: dict[str, MediaItems] | None = None,
        images: torch.Tensor | None = None,
        videos: MediaItems | None = None,
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
        encoders: dict[str, Encoder] = dict(self.encoders.items())  # type: ignore[arg-type]
        return save_model(Path(directory), self.config, encoders, self.llm, self.state_dict())

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, registry: Registry | None = None, dtype: torch.dtype | None = None
    ) -> MultimodalLM:
        """Load a model written by `save_pretrained`: its parts rebuilt from the saved config and artifacts,
        then its weights loaded strictly (also public as `mmbind.load_pretrained`, the same arguments)."""
        directory = Path(directory)
        parts = restore_parts(directory, registry)
        model = cls(parts.config, parts.encoders, parts.projectors, parts.llm)
        load_weights_from(model, directory)
        if dtype is not None:
            model.to(dtype)
        return model.eval()

    # ------------------------------------------------------------------ checks
    def _collect_media(
        self,
        media: dict[str, MediaItems] | None,
        images: torch.Tensor | None,
        videos: MediaItems | None,
    ) -> dict[str, MediaItems]:
        merged = dict(media or {})
        for modality, value in (("image", images), ("video", videos)):
            if value is not None:
                if modality in merged:
                    raise InputError(f"{modality}s given twice (as media['{modality}'] and {modality}s=)")
                merged[modality] = value
        for modality, pixels in list(merged.items()):
            if modality not in self.encoders:
                known = ", ".join(self.encoders)
                raise InputError(
                    f"media '{modality}': this model has no {modality} encoder (it has: {known})"
                )
            if pixels is None or item_count(pixels) == 0:
                del merged[modality]
                continue
            shape = self.encoders[modality].item_shape
            for item in pixels if isinstance(pixels, list) else [pixels]:
                _check_shape(modality, item if isinstance(pixels, torch.Tensor) else item[None], shape)
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


def _gather(parts: list[tuple[list[int], torch.Tensor]], count: int) -> MediaItems:
    """Per-group outputs back in item order: the group itself when there is one in order, else per item."""
    if len(parts) == 1 and parts[0][0] == list(range(count)):
        return parts[0][1]
    items: list[torch.Tensor] = [torch.empty(0)] * count
    for slots, tokens in parts:
        for slot, item in zip(slots, tokens.unbind(0)):
            items[slot] = item
    return stack_items(items)


def _dtype_for(projector: nn.Module, tokens: MediaItems | None) -> torch.dtype:
    if tokens is not None:
        return (tokens[0] if isinstance(tokens, list) else tokens).dtype
    param = next(projector.parameters(), None)
    return param.dtype if param is not None else torch.float32


def _check_shape(modality: str, pixels: torch.Tensor, item_shape: tuple[int | None, ...]) -> None:
    expected = ("N", *("T" if d is None else d for d in item_shape))
    ok = pixels.ndim == len(item_shape) + 1 and all(
        d is None or d == s for d, s in zip(item_shape, pixels.shape[1:])
    )
    if not ok or not pixels.is_floating_point():
        shown = ", ".join(str(d) for d in expected)
        raise InputError(
            f"{modality}: expected a float tensor of shape ({shown}), "
            f"got {pixels.dtype} {tuple(pixels.shape)}"
        )
