"""hf_tiny.py

Test helpers: tiny random transformers Video-LLaVA models, and the expanded (Hugging Face) and
one-placeholder (mmbind) forms of the same prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import CLIPVisionConfig, LlamaConfig, VideoLlavaConfig, VideoLlavaForConditionalGeneration

VOCAB = 99
PAD = 3
IMAGE_ID = 90  # placeholder ids inside the vocabulary, as in the real checkpoint (32000, 32001 < 32064)
VIDEO_ID = 91
Segment = int | Literal["image", "video"]  # a text token id or one media item


def tiny_config(
    image_size: int = 28,
    layer: int | list[int] = -2,
    strategy: str = "default",
    kv_heads: int = 2,
    vision_act: str = "quick_gelu",
    projector_act: str = "gelu",
    projector_bias: bool = True,
    tie: bool = False,
) -> VideoLlavaConfig:
    """A Video-LLaVA config with a 2-layer Llama and a 2-layer CLIP tower (patch 14)."""
    text = LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=kv_heads,
        intermediate_size=37,
        max_position_embeddings=512,
        pad_token_id=PAD,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=tie,
        initializer_range=0.2,  # larger weights: peaked logits, varied greedy tokens
    )
    vision = CLIPVisionConfig(
        image_size=image_size,
        patch_size=14,
        hidden_size=24,
        intermediate_size=37,
        num_hidden_layers=3,
        num_attention_heads=4,
        projection_dim=24,
        hidden_act=vision_act,
    )
    patches = (image_size // 14) ** 2
    return VideoLlavaConfig(
        text_config=text,
        vision_config=vision,
        image_token_index=IMAGE_ID,
        video_token_index=VIDEO_ID,
        vision_feature_layer=layer,
        vision_feature_select_strategy=strategy,
        projector_hidden_act=projector_act,
        multimodal_projector_bias=projector_bias,
        image_seq_length=patches + (strategy == "full"),
        video_seq_length=(patches + 1) * 8,
        tie_word_embeddings=tie,
    )


def tiny_model(seed: int = 0, attn: str = "eager", **kwargs: Any) -> VideoLlavaForConditionalGeneration:
    """A seeded random tiny Video-LLaVA in eval mode."""
    torch.manual_seed(seed)
    model = VideoLlavaForConditionalGeneration._from_config(tiny_config(**kwargs), attn_implementation=attn)
    return model.eval()


def save_tiny(directory: Path, seed: int = 0, **kwargs: Any) -> VideoLlavaForConditionalGeneration:
    """Save a tiny model into ``directory`` and return it."""
    model = tiny_model(seed, **kwargs)
    model.save_pretrained(directory)
    return model


def tokens_per_item(config: VideoLlavaConfig, modality: str, frames: int) -> int:
    """How many placeholder copies transformers expects for one item."""
    patches = (config.vision_config.image_size // config.vision_config.patch_size) ** 2
    if modality == "image":
        return patches + (config.vision_feature_select_strategy == "full")
    return (patches + 1) * frames


def batch_ids(
    samples: Sequence[Sequence[Segment]],
    config: VideoLlavaConfig,
    frames: int,
    side: str = "right",
    expand: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded ``(input_ids, attention_mask)``; ``expand`` repeats each placeholder as transformers needs."""
    ids = {"image": config.image_token_index, "video": config.video_token_index}
    rows = []
    for sample in samples:
        row: list[int] = []
        for seg in sample:
            if isinstance(seg, int):
                row.append(seg)
            else:
                row += [ids[seg]] * (tokens_per_item(config, seg, frames) if expand else 1)
        rows.append(row)
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(width - len(row), width) if side == "left" else slice(0, len(row))
        input_ids[i, span] = torch.tensor(row)
        mask[i, span] = 1
    return input_ids, mask


def media(
    samples: Sequence[Sequence[Segment]], image_size: int, frames: int, seed: int = 0
) -> dict[str, torch.Tensor | None]:
    """Random pixels for every image and video item of ``samples`` (None when there is none)."""
    gen = torch.Generator().manual_seed(seed)
    count = {m: sum(seg == m for s in samples for seg in s) for m in ("image", "video")}
    images = torch.randn(count["image"], 3, image_size, image_size, generator=gen) if count["image"] else None
    videos = (
        torch.randn(count["video"], frames, 3, image_size, image_size, generator=gen)
        if count["video"]
        else None
    )
    return {"image": images, "video": videos}


def word_tokenizer(directory: Path, prepend_bos: bool = False) -> Any:
    """A word-level tokenizer for the tiny config, saved into ``directory``: words w4..w98 plus the specials
    at the ids the config uses (pad 3, <image> 90, <video> 91); ``prepend_bos`` puts <s> first."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    names = {0: "<unk>", 1: "<s>", 2: "</s>", PAD: "<pad>", 90: "<image>", 91: "<video>"}
    backend = Tokenizer(models.WordLevel({names.get(i, f"w{i}"): i for i in range(VOCAB)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    if prepend_bos:
        backend.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    tokenizer.add_tokens(["<image>", "<video>"], special_tokens=True)  # already in the vocab: ids unchanged
    tokenizer.save_pretrained(directory)
    return tokenizer
