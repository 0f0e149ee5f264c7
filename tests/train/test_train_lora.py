"""LoRA on the LLM through peft: only adapters (and the projector) train, checkpoints hold the adapters,
and the saved stage output has them merged into plain weights that match the adapted model's outputs."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

import mmbind
from mmbind.errors import RecipeError
from mmbind.interfaces import LoraSpec
from mmbind.recipe.training_schema import StageSpec
from mmbind.train import train
from mmbind.train.checkpoint import list_checkpoints
from mmbind.train.distributed import DistInfo
from mmbind.train.lora import apply_lora, merge_lora
from mmbind.train.setup import prepare_model
from tests.support.train import make_data, tiny_train_recipe

LORA = ["stages.finetune.lora={r: 4, alpha: 8, dropout: 0.0}", "stages.finetune.lr=2e-2",
        "stages.finetune.warmup_ratio=0"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data"), images=2, videos=2, text_only=2)


def test_video_llava_lora_defaults():
    spec = LoraSpec()
    assert (spec.r, spec.alpha, spec.target_modules) == (128, 256, "all-linear")


def test_only_adapters_and_projector_train(data):
    model = mmbind.build_model(tiny_train_recipe(data))
    stage = StageSpec(train=["projector", "llm"], lora=LoraSpec(r=4, alpha=8), global_batch=4,
                      per_device_batch=4)
    prepare_model(model, stage, DistInfo(), total_steps=2, cache=None)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    llm = [n for n in trainable if n.startswith("llm.")]
    assert llm and all("lora_" in n for n in llm)
    assert not any("lm_head" in n for n in llm)  # all-linear leaves the output head alone
    assert {n for n in trainable if not n.startswith("llm.")} == {
        n for n, _ in model.projectors.named_parameters(prefix="projectors")}
    with pytest.raises(RecipeError, match="LoRA adapts the LLM, so 'llm' must be in train"):
        prepare_model(mmbind.build_model(tiny_train_recipe(data)),
                      StageSpec(train=["projector"], lora=LoraSpec(), global_batch=4, per_device_batch=4),
                      DistInfo(), total_steps=2, cache=None)


def test_merge_keeps_the_adapted_outputs(data):
    model = mmbind.build_model(tiny_train_recipe(data)).eval()
    apply_lora(model, LoraSpec(r=4, alpha=8, dropout=0.0))
    with torch.no_grad():
        for name, param in model.llm.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)  # non-zero adapters (B starts at zero)
    embeds = torch.randn(2, 5, model.llm.hidden_size)
    with torch.no_grad():
        adapted = model.llm(embeds)
        merge_lora(model)
        merged = model.llm(embeds)
    assert not any("lora_" in n for n in model.state_dict())
    assert torch.allclose(adapted, merged, atol=1e-4)


@pytest.mark.slow
def test_lora_stage_checkpoints_adapters_and_saves_merged_weights(data, tmp_path):
    recipe = tiny_train_recipe(data, *LORA, "stages.finetune.max_steps=3",
                               "stages.finetune.save_every_steps=1")
    recipe.stages = {"finetune": recipe.stages["finetune"]}
    train(recipe, tmp_path / "run", progress=False)
    checkpoint = load_file(str(list_checkpoints(tmp_path / "run")[-1] / "trainable.safetensors"))
    assert any("lora_A" in n for n in checkpoint)
    assert all("lora_" in n for n in checkpoint if n.startswith("llm."))
    out = tmp_path / "run" / "stages" / "finetune"
    merged = load_file(str(out / "model.safetensors"))
    initial = mmbind.build_model(tiny_train_recipe(data)).state_dict()
    assert set(merged) <= set(initial) and not any("lora_" in n for n in merged)
    q_proj = "llm.model.model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(merged[q_proj], initial[q_proj])  # adapters folded in
    assert torch.equal(merged["llm.model.model.embed_tokens.weight"],
                       initial["llm.model.model.embed_tokens.weight"])
    mmbind.load_pretrained(out)
