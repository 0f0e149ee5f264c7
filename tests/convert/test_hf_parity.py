"""Parity between transformers' Video-LLaVA and the mmbind model `convert_hf` makes of it (and back).

Tiny random HF models are saved, converted and loaded with `mmbind.load_pretrained`; both sides run eager
attention, fp32 logits must agree to 1e-5 on real positions and greedy generations exactly. One test also
checks the converted model's default kernel (sdpa) against HF's sdpa and eager.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, VideoLlavaForConditionalGeneration

import mmbind
from mmbind.convert import convert_hf, export_hf
from tests.support.hf_tiny import PAD, Segment, batch_ids, media, save_tiny, word_tokenizer

TOL = 1e-5
CONFIGS: dict[str, dict[str, Any]] = {
    # name: tiny_config kwargs + frames
    "gqa-layer-2-default-28px-2f-quickgelu": dict(
        kv_heads=2, layer=-2, strategy="default", image_size=28, frames=2
    ),
    "mha-layer-1-full-42px-4f-gelu": dict(
        kv_heads=4, layer=-1, strategy="full", image_size=42, frames=4, vision_act="gelu"
    ),
    "gqa-layers[-2,-1]-default-42px-2f-tied": dict(
        kv_heads=1, layer=[-2, -1], strategy="default", image_size=42, frames=2, vision_act="gelu", tie=True
    ),
    "gqa-layers[-3,-1]-full-28px-4f-tanh-nobias": dict(
        kv_heads=2,
        layer=[-3, -1],
        strategy="full",
        image_size=28,
        frames=4,
        projector_act="gelu_pytorch_tanh",
        projector_bias=False,
    ),
}
BATCHES: dict[str, list[list[Segment]]] = {
    "image-only": [[5, 6, "image", 7, 8], ["image", 9]],
    "video-only": [["video", 10, 11, 12], [13, 14, 15, "video", 16, 17, 18, 19]],
    "mixed": [[5, 6, "image", 7], ["video", 9, 10], [11, 12, 13, 14, 15], [16, "image", 17, "video", 18]],
}


class Pair:
    """A tiny HF model, its saved directory and the mmbind model converted from it."""

    def __init__(self, root: Path, name: str) -> None:
        kwargs = dict(CONFIGS[name])
        self.frames: int = kwargs.pop("frames")
        self.size: int = kwargs["image_size"]
        self.hf_dir, self.mm_dir = root / "hf", root / "mm"
        self.hf = save_tiny(self.hf_dir, seed=len(name), **kwargs)
        convert_hf(self.hf_dir, self.mm_dir)
        self.mm = mmbind.load_pretrained(self.mm_dir)
        self.mm.llm.model.set_attn_implementation("eager")  # the same kernel as the reference
        for encoder in self.mm.encoders.values():
            encoder.tower.set_attn_implementation("eager")

    def inputs(
        self, samples: list[list[Segment]], side: str, expand: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return batch_ids(samples, self.hf.config, self.frames, side=side, expand=expand)

    def hf_logits(self, hf: VideoLlavaForConditionalGeneration, samples: list[list[Segment]]) -> torch.Tensor:
        ids, mask = self.inputs(samples, "right", expand=True)
        px = media(samples, self.size, self.frames)
        with torch.no_grad():
            return hf(
                input_ids=ids, attention_mask=mask, pixel_values=px["image"], pixel_values_videos=px["video"]
            ).logits


@pytest.fixture(scope="module", params=list(CONFIGS))
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Pair:
    return Pair(tmp_path_factory.mktemp("pair"), request.param)


@pytest.mark.parametrize("batch", list(BATCHES))
def test_forward_parity(pair: Pair, batch: str) -> None:
    samples = BATCHES[batch]
    ids, mask = pair.inputs(samples, "right", expand=False)
    _, hf_mask = pair.inputs(samples, "right", expand=True)
    px = media(samples, pair.size, pair.frames)
    with torch.no_grad():
        out = pair.mm(ids, mask, images=px["image"], videos=px["video"])
    ref = pair.hf_logits(pair.hf, samples)
    assert torch.equal(out.attention_mask, hf_mask)  # same expanded length per sample, right padded
    real = hf_mask.bool()
    assert (out.logits[real] - ref[real]).abs().max().item() <= TOL


def test_generate_parity_left_padded(pair: Pair) -> None:
    samples: list[list[Segment]] = [[5, 6, 7, "image", 8, 9, 10, 11, 20, 21, 22, 23], ["video", 12]]
    ids, mask = pair.inputs(samples, "left", expand=False)
    hf_ids, hf_mask = pair.inputs(samples, "left", expand=True)
    px = media(samples, pair.size, pair.frames, seed=1)
    new = pair.mm.generate(
        ids, mask, images=px["image"], videos=px["video"], max_new_tokens=8, do_sample=False
    )
    ref = pair.hf.generate(
        input_ids=hf_ids,
        attention_mask=hf_mask,
        pixel_values=px["image"],
        pixel_values_videos=px["video"],
        max_new_tokens=8,
        do_sample=False,
        pad_token_id=PAD,
    )
    assert new.shape == (2, 8)
    assert torch.equal(new, ref[:, hf_ids.shape[1] :])


def test_export_round_trip(pair: Pair, tmp_path: Path) -> None:
    export_hf(pair.mm_dir, tmp_path / "hf")
    back, info = VideoLlavaForConditionalGeneration.from_pretrained(
        tmp_path / "hf", output_loading_info=True, attn_implementation="eager"
    )
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    original, exported = pair.hf.state_dict(), back.eval().state_dict()
    assert sorted(original) == sorted(exported)
    assert all(torch.equal(original[k], exported[k]) for k in original)
    for field in (
        "vision_feature_layer",
        "vision_feature_select_strategy",
        "image_token_index",
        "video_token_index",
        "projector_hidden_act",
        "multimodal_projector_bias",
        "tie_word_embeddings",
        "image_seq_length",
        "video_seq_length",
    ):
        assert getattr(back.config, field) == getattr(pair.hf.config, field), field
    assert back.config.vision_config.hidden_act == pair.hf.config.vision_config.hidden_act
    samples = BATCHES["mixed"]
    real = pair.inputs(samples, "right", expand=True)[1].bool()
    diff = (pair.hf_logits(back, samples) - pair.hf_logits(pair.hf, samples))[real].abs().max().item()
    assert diff <= TOL


def test_default_sdpa_kernel_agrees(tmp_path: Path) -> None:
    name = "gqa-layers[-2,-1]-default-42px-2f-tied"
    pair = Pair(tmp_path, name)
    mm = mmbind.load_pretrained(pair.mm_dir)  # as converted: sdpa everywhere
    assert mm.llm.model.config._attn_implementation == "sdpa"
    samples = BATCHES["mixed"]
    ids, mask = pair.inputs(samples, "right", expand=False)
    real = pair.inputs(samples, "right", expand=True)[1].bool()
    px = media(samples, pair.size, pair.frames)
    with torch.no_grad():
        logits = mm(ids, mask, images=px["image"], videos=px["video"]).logits[real]
    hf_sdpa = VideoLlavaForConditionalGeneration.from_pretrained(
        pair.hf_dir, attn_implementation="sdpa"
    ).eval()
    assert (logits - pair.hf_logits(hf_sdpa, samples)[real]).abs().max().item() <= TOL
    assert (logits - pair.hf_logits(pair.hf, samples)[real]).abs().max().item() <= 1e-4  # eager: other kernel


def test_converted_recipe_mirrors_hf_config(pair: Pair) -> None:
    spec, hf = pair.mm.config.model, pair.hf.config
    image, video = spec["encoders"]["image"]["options"], spec["encoders"]["video"]["options"]
    assert image["select_layer"] == video["select_layer"] == hf.vision_feature_layer
    assert image["keep_cls"] is (hf.vision_feature_select_strategy == "full") and video["keep_cls"] is True
    assert image["config"]["hidden_act"] == hf.vision_config.hidden_act
    assert spec["projector"] == {
        "plugin": "mlp2x_gelu",
        "shared": True,
        "options": {
            "act": {"gelu": "gelu", "gelu_pytorch_tanh": "gelu_tanh"}[hf.projector_hidden_act],
            "bias": hf.multimodal_projector_bias,
        },
    }
    text = spec["llm"]["options"]["config"]
    assert (text["model_type"], text["num_key_value_heads"]) == ("llama", hf.text_config.num_key_value_heads)
    assert pair.mm.config.placeholder_ids == {"image": hf.image_token_index, "video": hf.video_token_index}
    assert pair.mm.config.extra["converted_from"] == "hf_video_llava"


# ------------------------------------------------------------------ checkpoint layouts and tokenizer
def _rename(key: str, layout: str) -> str:
    """A key as written by this transformers version, moved to another published layout."""
    for tower in ("image_tower.", "video_tower."):
        if key.startswith(tower):
            inner = tower + "vision_model." + key[len(tower) :]
            return inner if layout == "legacy-hub" else "model." + inner
    if layout == "current":
        if key.startswith("language_model.model."):
            return "model.language_model." + key[len("language_model.model.") :]
        if key == "language_model.lm_head.weight":
            return "lm_head.weight"
        if key.startswith("multi_modal_projector."):
            return "model." + key
    return key


@pytest.mark.parametrize("layout", ["legacy-hub", "current"])
def test_other_checkpoint_layouts_convert_identically(tmp_path: Path, layout: str) -> None:
    hf = save_tiny(tmp_path / "hf", layer=[-2, -1])
    state = load_file(str(tmp_path / "hf" / "model.safetensors"))
    renamed = {_rename(k, layout): v for k, v in state.items()}
    assert len(renamed) == len(state) and renamed.keys() != state.keys()
    if layout == "legacy-hub":  # old checkpoints also carried rotary buffers, which are skipped
        renamed["language_model.model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(4)
    save_file(renamed, str(tmp_path / "hf" / "model.safetensors"), metadata={"format": "pt"})
    mm = mmbind.load_pretrained(convert_hf(tmp_path / "hf", tmp_path / "mm"))
    assert torch.equal(
        mm.encoders["video"].tower.embeddings.patch_embedding.weight,
        hf.model.video_tower.embeddings.patch_embedding.weight,
    )
    assert torch.equal(mm.llm.model.lm_head.weight, hf.lm_head.weight)
    assert torch.equal(
        mm.projectors["shared"].layers[2].weight, hf.model.multi_modal_projector.linear_2.weight
    )


def test_tokenizer_travels_both_ways(tmp_path: Path) -> None:
    save_tiny(tmp_path / "hf")
    tokenizer = word_tokenizer(tmp_path / "hf")
    mm_dir = convert_hf(tmp_path / "hf", tmp_path / "mm")
    mm = mmbind.load_pretrained(mm_dir)
    assert mm.llm.tokenizer is not None and mm.llm.tokenizer.get_vocab() == tokenizer.get_vocab()
    assert mm.config.placeholder_ids == {"image": 90, "video": 91}  # taken from the config, nothing added
    export_hf(mm_dir, tmp_path / "back")
    back = AutoTokenizer.from_pretrained(tmp_path / "back")
    assert back.get_vocab() == tokenizer.get_vocab()
    assert back("<image> w5 <video>")["input_ids"] == [90, 5, 91]
