"""A third-party LLM backend built from plain torch modules (`third_party_llm`) trains through the interface
alone: FSDP2 on 2 gloo ranks gives the 1-rank losses (with gradient checkpointing on), LoRA trains only
adapters and saves merged weights, and checkpointing leaves the gradients unchanged. Also: FSDP units are
exactly the hf_causal backend's declared blocks, and nothing under ``mmbind/`` reaches past an interface."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import mmbind
import mmbind.train.setup as stage_setup
import tests.support.third_party_llm as third_party_llm
from mmbind.interfaces import LoraSpec
from mmbind.train import train
from mmbind.train.distributed import fsdp_units
from mmbind.train.parts import set_trainable
from tests.support.helpers import run_two_ranks
from tests.support.train import logged_losses, make_data, tiny_train_recipe

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parents[1] / "support" / "third_party_llm_driver.py"
SETTINGS = [
    "stages.pretrain.max_steps=2", "stages.finetune.max_steps=3",
    "stages.pretrain.global_batch=4", "stages.pretrain.per_device_batch=2",
    "stages.finetune.global_batch=4", "stages.finetune.per_device_batch=2",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data"), images=3, videos=3, text_only=2)


def test_the_backend_is_a_plain_torch_module_built_from_a_recipe(data):
    model = mmbind.build_model(third_party_llm.tiny_recipe(data), third_party_llm.registry())
    assert isinstance(model.llm, third_party_llm.TinyLM)
    assert not any(type(m).__module__.startswith("transformers") for m in model.llm.modules())
    assert fsdp_units(model) == list(model.llm.blocks)


@pytest.mark.slow
def test_fsdp_two_ranks_with_checkpointing_match_one_rank(data, tmp_path):
    reference = tmp_path / "one-rank"
    train(third_party_llm.tiny_recipe(data, *SETTINGS), reference, progress=False,
          registry=third_party_llm.registry())
    run = tmp_path / "fsdp"
    extra = ["stages.pretrain.strategy=fsdp", "stages.finetune.strategy=fsdp",
             "stages.finetune.gradient_checkpointing=true"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    run_two_ranks([str(DRIVER), str(data), str(run), *SETTINGS, *extra], env, cwd=ROOT)
    got, want = logged_losses(run), logged_losses(reference)
    assert [(s, n) for s, n, _ in got] == [(s, n) for s, n, _ in want] and len(got) == 5
    assert all(abs(a - b) < 1e-4 for (_, _, a), (_, _, b) in zip(got, want)), (got, want)


@pytest.mark.slow
def test_lora_trains_adapters_only_and_saves_a_merged_plain_model(data, tmp_path, monkeypatch):
    recipe = third_party_llm.tiny_recipe(
        data, *SETTINGS, "stages.finetune.lora={r: 4, alpha: 8, dropout: 0.0}", "stages.finetune.lr=2e-2",
        "stages.finetune.warmup_ratio=0", "stages.finetune.gradient_checkpointing=true")
    recipe.stages = {"finetune": recipe.stages["finetune"]}
    registry = third_party_llm.registry()
    initial = mmbind.build_model(recipe, registry).state_dict()
    seen: dict[str, list[str]] = {}

    def spy(model, parts, lora=False):  # what the stage trains, as the trainer decides it
        trainable = set_trainable(model, parts, lora)
        ids = {id(p) for params in trainable.values() for p in params}
        seen["names"] = [n for n, p in model.named_parameters() if id(p) in ids]
        return trainable

    monkeypatch.setattr(stage_setup, "set_trainable", spy)
    train(recipe, tmp_path / "run", progress=False, registry=registry)
    llm = [n for n in seen["names"] if n.startswith("llm.")]
    assert llm and all("lora_" in n for n in llm)
    assert not any(n.startswith("llm.head.") for n in llm)  # all-linear leaves the output head alone
    out = tmp_path / "run" / "stages" / "finetune"
    merged = load_file(str(out / "model.safetensors"))
    assert set(merged) == set(initial)  # no adapter left: a plain model
    assert not torch.equal(merged["llm.blocks.0.qkv.weight"], initial["llm.blocks.0.qkv.weight"])
    assert torch.equal(merged["llm.embed.weight"], initial["llm.embed.weight"])
    loaded = mmbind.load_pretrained(out, registry=registry)
    assert torch.equal(loaded.state_dict()["llm.blocks.0.qkv.weight"], merged["llm.blocks.0.qkv.weight"])


def test_merged_lora_keeps_the_adapted_outputs(data):
    llm = mmbind.build_model(third_party_llm.tiny_recipe(data), third_party_llm.registry()).llm.eval()
    llm.apply_lora(LoraSpec(r=4, alpha=8, dropout=0.0))
    with torch.no_grad():
        for name, param in llm.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    embeds = torch.randn(2, 5, llm.hidden_size)
    with torch.no_grad():
        adapted = llm(embeds)
        llm.merge_lora()
        merged = llm(embeds)
    assert not any("lora_" in n for n in llm.state_dict())
    assert torch.allclose(adapted, merged, atol=1e-4)


def test_gradient_checkpointing_gives_the_same_gradients(data):
    def grads(checkpointing: bool) -> tuple[dict[str, torch.Tensor], int]:
        torch.manual_seed(0)
        llm = mmbind.build_model(third_party_llm.tiny_recipe(data), third_party_llm.registry()).llm.train()
        forwards = []
        llm.blocks[0].register_forward_hook(lambda *_: forwards.append(1))
        if checkpointing:
            llm.enable_gradient_checkpointing()
        embeds = torch.randn(2, 7, llm.hidden_size, generator=torch.Generator().manual_seed(1))
        mask = torch.ones(2, 7, dtype=torch.long)
        mask[1, 5:] = 0
        llm(embeds, mask).logsumexp(-1).sum().backward()
        return {n: p.grad for n, p in llm.named_parameters() if p.grad is not None}, len(forwards)

    plain, plain_calls = grads(False)
    checkpointed, checkpointed_calls = grads(True)
    assert (plain_calls, checkpointed_calls) == (1, 1)  # the hook sees one call; the recompute is inside it
    assert plain.keys() == checkpointed.keys() and "blocks.0.qkv.weight" in plain
    assert all(torch.allclose(plain[n], checkpointed[n], atol=1e-6) for n in plain)


def test_gradient_checkpointing_recomputes_the_blocks(data):
    llm = mmbind.build_model(third_party_llm.tiny_recipe(data), third_party_llm.registry()).llm.train()
    llm.enable_gradient_checkpointing()
    inner = []
    block = llm.blocks[0]
    block.norm1.register_forward_hook(lambda *_: inner.append(1))
    llm(torch.randn(1, 4, llm.hidden_size)).sum().backward()
    assert len(inner) == 2  # forward, then again in backward


def test_hf_causal_fsdp_units_are_exactly_its_decoder_layers(tmp_path):
    data = make_data(tmp_path / "data", images=1, videos=1, text_only=1)
    model = mmbind.build_model(tiny_train_recipe(data))
    units = fsdp_units(model)
    assert units == model.llm.block_modules() == list(model.llm.model.model.layers)
    encoder_modules = {id(m) for e in model.encoders.values() for m in e.modules()}
    assert not any(id(u) in encoder_modules for u in units)


REACHING = {
    "class-name matching": re.compile(r"_no_split_modules|\"Vision\"|\"CLIP\""
                                      r"|type\([^)]*\)\.__name__ (not )?in"),
    "a timm ViT inside an encoder": re.compile(r"\.vit\b"),
    "LanguageBind's temporal layers": re.compile(r"temporal_attn|temporal_layer_norm"),
    "the hf_causal backend's transformers model": re.compile(r"llm\.model\b"),
    "a modality-name check for time axes": re.compile(r"modality\s*[!=]=\s*\"video\""),
    "a part's attribute or option read by name": re.compile(
        r"(get|has)attr\((self\.)?(encoder|llm|projector)\b"),
}


def test_nothing_under_mmbind_reaches_past_an_interface():
    found = []
    for path in sorted((ROOT / "mmbind").rglob("*.py")):  # no exemptions: the whole core
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{number}: {what}" for what, pattern in REACHING.items()
                      if pattern.search(line)]
    assert not found, "\n".join(found)
