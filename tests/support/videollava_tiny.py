"""videollava_tiny.py

Test helpers: tiny synthetic checkpoints in exactly the original Video-LLaVA layout (``config.json`` with
the ``mm_*`` fields, ``LlavaLlamaForCausalLM`` key names, ``.bin`` shards + index or safetensors), tiny
LanguageBind tower directories, a Llama-style (Metaspace BPE, BOS-prepending) tokenizer, and an
independent re-implementation of the original's ``tokenizer_image_token``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from mmbind.interfaces import BuildContext
from mmbind_plugins.encoders.languagebind import image as lb_image
from mmbind_plugins.encoders.languagebind import video as lb_video

IMAGE_PREFIX = "model.image_tower.image_tower."
VIDEO_PREFIX = "model.video_tower.video_tower."
IMAGE_TOKEN_INDEX = -200  # the original's placeholder id
TOWER = {  # the languagebind "tiny" preset's geometry, as a LanguageBind config states it
    "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "patch_size": 14, "image_size": 28, "hidden_act": "gelu", "layer_norm_eps": 1e-5, "num_channels": 3,
}
FRAMES = 4
LLM_WIDTH = 64
CORPUS = [
    "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the human's questions.",
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions.",
    "USER: \nWhat is happening in the video? ASSISTANT: A cat jumps.</s>",
    "USER: \nDescribe the image in detail. ASSISTANT: A dog runs on grass.\nIt is sunny.</s>",
    "What colour is the car? Why does the man smile? Compare the two pictures.",
]


def llama_tokenizer() -> PreTrainedTokenizerFast:
    """A SentencePiece-like tokenizer: BPE over Metaspace pieces with a prefix space, BOS prepended."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    tok.decoder = decoders.Metaspace(prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=160, special_tokens=["<unk>", "<s>", "</s>"])
    tok.train_from_iterator(CORPUS * 3, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def original_tokenizer_image_token(
    prompt: str, tokenizer: Any, image_token_index: int = IMAGE_TOKEN_INDEX
) -> list[int]:
    """The original's rule, written independently: split on ``<image>``, tokenize every chunk with special
    tokens, keep the first chunk's BOS once and drop the first token of every later chunk when it was a BOS
    chunk, one ``image_token_index`` between chunks."""
    chunks = [tokenizer(chunk).input_ids for chunk in prompt.split("<image>")]
    starts_with_bos = bool(chunks[0]) and chunks[0][0] == tokenizer.bos_token_id
    drop = 1 if starts_with_bos else 0
    ids: list[int] = [chunks[0][0]] if starts_with_bos else []
    for i, chunk in enumerate(chunks):
        if i:
            ids.append(image_token_index)
        ids.extend(chunk[drop:])
    return ids


def llama_config(vocab: int, **overrides: Any) -> LlamaConfig:
    fields = dict(
        vocab_size=vocab, hidden_size=LLM_WIDTH, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, bos_token_id=1,
        eos_token_id=2, pad_token_id=0, rms_norm_eps=1e-5, tie_word_embeddings=False,
    )
    return LlamaConfig(**{**fields, **overrides})


def _jitter(state: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Every tensor made distinct (LayerNorm ones / zero biases would hide misplaced weights)."""
    return {k: (v + 0.05 * torch.randn(v.shape, generator=gen)).contiguous() for k, v in state.items()}


def towers(seed: int = 0) -> dict[str, dict[str, torch.Tensor]]:
    """Bare-named state dicts of a tiny LanguageBind image tower and video tower (temporal weights)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 1)
    image = lb_image.build(lb_image.LanguageBindImageOptions(preset="tiny"), BuildContext(modality="image"))
    video = lb_video.build(lb_video.LanguageBindVideoOptions(preset="tiny"),
                           BuildContext(modality="video", temporal=True))
    return {"image": _jitter(image.tower.state_dict(), gen), "video": _jitter(video.tower.state_dict(), gen)}


def source_state(
    vocab: int, seed: int = 0, with_towers: bool = True, projector: str = "mlp2x_gelu"
) -> dict[str, torch.Tensor]:
    """Every weight of a tiny original checkpoint under its original name (plus skippable buffers)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed + 2)
    llama = LlamaForCausalLM(llama_config(vocab))
    state = _jitter(llama.state_dict(), gen)
    if projector == "linear":
        state |= {"model.mm_projector.weight": torch.randn(LLM_WIDTH, 32, generator=gen) * 0.2,
                  "model.mm_projector.bias": torch.randn(LLM_WIDTH, generator=gen) * 0.2}
    else:
        state |= {
            "model.mm_projector.0.weight": torch.randn(LLM_WIDTH, 32, generator=gen) * 0.2,
            "model.mm_projector.0.bias": torch.randn(LLM_WIDTH, generator=gen) * 0.2,
            "model.mm_projector.2.weight": torch.randn(LLM_WIDTH, LLM_WIDTH, generator=gen) * 0.2,
            "model.mm_projector.2.bias": torch.randn(LLM_WIDTH, generator=gen) * 0.2,
        }
    if with_towers:
        tower = towers(seed)
        state |= {IMAGE_PREFIX + k: v for k, v in tower["image"].items()}
        state |= {VIDEO_PREFIX + k: v for k, v in tower["video"].items()}
        state[IMAGE_PREFIX + "embeddings.position_ids"] = torch.arange(5)[None]  # saved by transformers 4.31
    state["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(8)  # saved by transformers 4.31
    return state


def source_config(vocab: int, **overrides: Any) -> dict[str, Any]:
    """``config.json`` of the original layout: Llama fields + Video-LLaVA's mm_* fields (tiny sizes)."""
    config = {
        "_name_or_path": "lmsys/vicuna-7b-v1.5", "architectures": ["LlavaLlamaForCausalLM"],
        "model_type": "llava", "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0, "hidden_act": "silu",
        "hidden_size": LLM_WIDTH,
        "initializer_range": 0.02, "intermediate_size": 96, "max_position_embeddings": 512,
        "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2, "pretraining_tp": 1,
        "rms_norm_eps": 1e-5, "rope_scaling": None, "rope_theta": 10000.0, "tie_word_embeddings": False,
        "torch_dtype": "float32", "transformers_version": "4.31.0", "use_cache": True, "vocab_size": vocab,
        "X": ["Image", "Video"], "freeze_mm_mlp_adapter": False, "image_aspect_ratio": "pad",
        "mm_hidden_size": 32, "mm_image_tower": "LanguageBind/LanguageBind_Image", "mm_projector_lr": None,
        "mm_projector_type": "mlp2x_gelu", "mm_use_im_patch_token": False, "mm_use_im_start_end": False,
        "mm_video_tower": "LanguageBind/LanguageBind_Video_merge", "mm_vision_select_feature": "patch",
        "mm_vision_select_layer": -2, "tokenizer_model_max_length": 3072, "tokenizer_padding_side": "right",
        "tune_mm_mlp_adapter": False, "use_mm_proj": True,
    }
    return {**config, **overrides}


def write_source(
    directory: Path, state: dict[str, torch.Tensor], config: dict[str, Any], layout: str = "bin_sharded",
    tokenizer: PreTrainedTokenizerFast | None = None,
) -> Path:
    """Write a checkpoint: ``bin_sharded`` (two ``.bin`` + index, as released), ``safetensors`` or
    ``safetensors_sharded``; optionally with tokenizer files."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    keys = sorted(state)
    halves = [keys[: len(keys) // 2], keys[len(keys) // 2:]]
    if layout == "safetensors":
        save_file({k: state[k].clone() for k in keys}, str(directory / "model.safetensors"))
    else:
        ext, stem, index = (
            ("bin", "pytorch_model", "pytorch_model.bin.index.json") if layout == "bin_sharded"
            else ("safetensors", "model", "model.safetensors.index.json")
        )
        weight_map = {}
        for i, half in enumerate(halves, start=1):
            name = f"{stem}-{i:05d}-of-00002.{ext}"
            shard = {k: state[k].clone() for k in half}
            if ext == "bin":
                torch.save(shard, directory / name)
            else:
                save_file(shard, str(directory / name))
            weight_map |= {k: name for k in half}
        total = sum(t.numel() * t.element_size() for t in state.values())
        index_data = {"metadata": {"total_size": total}, "weight_map": weight_map}
        (directory / index).write_text(json.dumps(index_data))
    if tokenizer is not None:
        tokenizer.save_pretrained(directory)
    return directory


def write_tower_dir(directory: Path, state: dict[str, torch.Tensor], fields: dict[str, Any]) -> Path:
    """A LanguageBind-style directory: ``config.json`` with a ``vision_config`` (plus LanguageBind's own
    fields) and ``model.safetensors`` with the tower under ``vision_model.`` next to a text tower."""
    directory.mkdir(parents=True, exist_ok=True)
    vision = {**fields, "add_time_attn": "num_frames" in fields, "lora_r": 0}
    config = {"model_type": "LanguageBindVideo", "vision_config": vision, "text_config": {"hidden_size": 8}}
    (directory / "config.json").write_text(json.dumps(config))
    weights = {f"vision_model.{k}": v.clone() for k, v in state.items()}
    weights |= {"text_model.final_layer_norm.weight": torch.ones(8), "logit_scale": torch.tensor(2.0),
                "text_projection.weight": torch.zeros(4, 8), "visual_projection.weight": torch.zeros(4, 32)}
    save_file(weights, str(directory / "model.safetensors"))
    return directory
