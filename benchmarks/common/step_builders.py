"""step_builders.py

Shared by the training-step benchmarks: one architecture `Shape`, and builders that return a callable
running one full stage-2 training step (forward, backward, clipping, AdamW; projector + LLM train, towers
frozen) for transformers' ``VideoLlavaForConditionalGeneration`` and for mmbind on the same batch.

mmbind's model is built from transformers' config through mmbind's converter (`recipe_dict`); with
``same_weights`` it also takes the reference model's weights (`load_hf_weights`), so the two sides compute
the same function and `Step.loss` (one fp32 forward, no update) must agree.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

IMAGE_ID, VIDEO_ID = 32000, 32001
LR = 2e-5  # constant learning rate of both sides (AdamW, no weight decay, default betas and epsilon)


@dataclass(frozen=True)
class Shape:
    """Architecture and batch of a benchmark."""

    vision: dict = field(default_factory=dict)  # CLIPVisionConfig fields
    text: dict = field(default_factory=dict)  # LlamaConfig fields
    rows: tuple[str, ...] = ("video", "video", "image", "image")  # one media item per row
    frames: int = 8  # frames per video
    text_tokens: int = 64  # text tokens per row (incl. BOS)
    supervised: int = 32  # trailing text tokens with labels

    @property
    def patches(self) -> int:
        return (self.vision["image_size"] // self.vision["patch_size"]) ** 2

    def media_tokens(self, kind: str) -> int:
        """Expanded tokens of one item (images drop CLS, videos keep it, as Video-LLaVA)."""
        return (self.patches + 1) * self.frames if kind == "video" else self.patches


@dataclass
class Step:
    """A ready training step and what it computes."""

    run: Callable[[], float]  # one optimizer step; returns the loss
    loss: Callable[[], float]  # one forward without autocast or update: the fp32 mean supervised loss
    tokens_real: int  # tokens of the samples after expansion
    tokens_computed: int  # tokens the LLM processes (padding included)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(dev: torch.device, bf16_params: bool) -> contextlib.AbstractContextManager:
    if dev.type == "cuda" and not bf16_params:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _batch_parts(shape: Shape, seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    size = shape.vision["image_size"]
    texts = [torch.randint(3, 32000, (shape.text_tokens - 1,), generator=gen) for _ in shape.rows]
    images = torch.randn(shape.rows.count("image"), 3, size, size, generator=gen)
    videos = torch.randn(shape.rows.count("video"), shape.frames, 3, size, size, generator=gen)
    return texts, images, videos


def _labels(ids: torch.Tensor, supervised: int) -> torch.Tensor:
    labels = torch.full_like(ids, -100)
    labels[-supervised:] = ids[-supervised:]
    return labels


def reference_model(shape: Shape) -> torch.nn.Module:
    """transformers' Video-LLaVA of ``shape`` in fp32 on the CPU, seeded: the weights both sides start
    from."""
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        VideoLlavaConfig,
        VideoLlavaForConditionalGeneration,
    )

    config = VideoLlavaConfig(
        vision_config=CLIPVisionConfig(**shape.vision), text_config=LlamaConfig(**shape.text, pad_token_id=0),
        image_token_index=IMAGE_ID, video_token_index=VIDEO_ID, vision_feature_layer=-2,
        vision_feature_select_strategy="default", image_seq_length=shape.patches,
        video_seq_length=shape.media_tokens("video"),
    )
    torch.manual_seed(0)
    return VideoLlavaForConditionalGeneration._from_config(config, attn_implementation="sdpa")


def _fp32_loss(forward: Callable[[], torch.Tensor], dev: torch.device) -> Callable[[], float]:
    def loss() -> float:
        with torch.no_grad(), torch.autocast(dev.type, enabled=False):
            return float(forward())

    return loss


def hf_step(shape: Shape, bf16_params: bool = False, checkpointing: bool = False) -> Step:
    """transformers' Video-LLaVA, its processor's expanded placeholders, right padding."""
    dev = device()
    model = reference_model(shape).to(dev, torch.bfloat16 if bf16_params else torch.float32).train()
    model.model.image_tower.requires_grad_(False)
    model.model.video_tower.requires_grad_(False)
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    texts, images, videos = _batch_parts(shape)
    rows = []
    for kind, text in zip(shape.rows, texts):
        token = VIDEO_ID if kind == "video" else IMAGE_ID
        rows.append(torch.cat([torch.tensor([1] + [token] * shape.media_tokens(kind)), text]))
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask, labels = torch.zeros_like(ids), torch.full_like(ids, -100)
    for i, r in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)], labels[i, :len(r)] = r, 1, _labels(r, shape.supervised)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LR, weight_decay=0.0, fused=dev.type == "cuda" or None)
    dtype = torch.bfloat16 if bf16_params else torch.float32
    inputs = {"input_ids": ids.to(dev), "attention_mask": mask.to(dev), "labels": labels.to(dev)}
    if len(images):
        inputs["pixel_values_images"] = images.to(dev, dtype)
    if len(videos):
        inputs["pixel_values_videos"] = videos.to(dev, dtype)

    def run() -> float:
        with autocast(dev, bf16_params):
            loss = model(**inputs).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    return Step(run, _fp32_loss(lambda: model(**inputs).loss, dev), int(mask.sum()), ids.numel())


def mmbind_step(
    shape: Shape, packed: bool, bf16_params: bool = False, checkpointing: bool = False,
    same_weights: bool = False,
) -> Step:
    """mmbind's training forward (`TrainForward`) set up by the stage machinery, one placeholder per item; the
    model converted from the reference's config, and with ``same_weights`` from its weights too."""
    import mmbind
    from mmbind.convert.hf.config_mapping import port_recipe
    from mmbind.convert.hf.weight_transfer import load_hf_weights
    from mmbind.data import Collator, Example, MediaItem
    from mmbind.recipe.training_schema import StageSpec
    from mmbind.train.distributed import DistInfo
    from mmbind.train.setup import prepare_model

    dev = device()
    if same_weights:
        reference = reference_model(shape)
    else:  # the config alone: no weights allocated
        with torch.device("meta"):
            reference = reference_model(shape)
    model = mmbind.build_model(mmbind.recipe_from_dict(port_recipe(reference.config, None, name="bench")))
    if same_weights:
        load_hf_weights(model, reference.state_dict().items(), where="reference model")
    del reference
    stage = StageSpec(train=["projector", "llm"], lr=LR, warmup_ratio=0.0, scheduler="constant_with_warmup",
                      weight_decay=0.0, global_batch=len(shape.rows),
                      per_device_batch=len(shape.rows), packing=packed, gradient_checkpointing=checkpointing,
                      precision="bf16" if bf16_params else "auto")
    prepared = prepare_model(model, stage, DistInfo(device=dev), total_steps=1000, cache=None)
    texts, images, videos = _batch_parts(shape)
    examples, counters = [], {"image": 0, "video": 0}
    for kind, text in zip(shape.rows, texts):
        ids = torch.cat([torch.tensor([1, VIDEO_ID if kind == "video" else IMAGE_ID]), text])
        pixels = (videos if kind == "video" else images)[counters[kind]]
        counters[kind] += 1
        item = MediaItem(kind, pixels=pixels)
        examples.append(Example(kind, ids, _labels(ids, shape.supervised), [item],
                                len(ids) - 1 + shape.media_tokens(kind)))
    batch = Collator(pad_id=0, packing=packed)(examples).to(dev)
    n = batch.supervised_tokens

    def run() -> float:
        with autocast(dev, bf16_params):
            loss = prepared.module(batch) / n
        loss.backward()
        torch.nn.utils.clip_grad_norm_(prepared.params, 1.0)
        prepared.optimizer.step()
        prepared.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    real = sum(batch.lengths)
    return Step(run, _fp32_loss(lambda: prepared.module(batch) / n, dev), real,
                real if packed else len(batch.lengths) * max(batch.lengths))
