"""Conversion reaches a part only through the capabilities its interface declares (`Encoder.original_tower`,
`Projector.original_projector`, `LLMBackend.hf_model`, ``load_original_state``): a part without them, such
as a third-party encoder, gives one clear error naming it through ``mmbind export``, and what the
first-party parts declare shares storage with their parameters (copying into it loads them)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import torch

import mmbind
from mmbind import CheckpointError, ConversionError
from mmbind.cli.main import main as cli_main
from mmbind.registry import default_registry
from tests.support.helpers import EXAMPLE_PLUGIN_SRC, forget_modules, make_dist_info
from tests.support.third_party_llm import TinyLM, TinyLMOptions

TOWER = {"image_size": 28, "patch_size": 14, "hidden_size": 24, "intermediate_size": 40,
         "num_hidden_layers": 2, "num_attention_heads": 4}
LLAMA = {"model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48,
         "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2}
MODEL: dict[str, Any] = {
    "seed": 0,
    "encoders": {m: {"plugin": "clip_vision", "options": {"config": TOWER}} for m in ("image", "video")},
    "projector": {"plugin": "mlp2x_gelu", "shared": True},
    "llm": {"plugin": "hf_causal", "options": {"config": LLAMA}},
}


@pytest.fixture
def example_installed(tmp_path, monkeypatch):
    """The example third-party encoder package (``patch_mean``) installed, in the default registry."""
    pyproject = (EXAMPLE_PLUGIN_SRC / "pyproject.toml").read_text()
    name, target = re.search(r'^(\w+) = "(mmbind_example_encoder[\w.]*)"', pyproject, re.M).groups()
    make_dist_info(tmp_path / "site", "mmbind-example-encoder", {name: target})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN_SRC))
    default_registry.cache_clear()
    yield
    default_registry.cache_clear()
    forget_modules("mmbind_example_encoder")


def _checkpoint(directory: Path, part: str, replacement: dict[str, Any]) -> Path:
    model = copy.deepcopy(MODEL)
    *parents, last = part.split(".")
    node = model
    for key in parents:
        node = node[key]
    node[last] = replacement
    recipe = mmbind.recipe_from_dict({"name": "m", "model": model})
    return mmbind.build_model(recipe).save_pretrained(directory)


@pytest.mark.parametrize(
    ("part", "replacement", "message"),
    [
        (
            "encoders.image",
            {"plugin": "patch_mean", "options": {"image_size": 28, "patch_size": 14, "width": 24}},
            r"encoders.image: encoder PatchMeanEncoder cannot be converted "
            r"\(it does not implement original_tower\)",
        ),
        (
            "projector",
            {"plugin": "resampler", "shared": True, "options": {"num_queries": 4, "heads": 4}},
            r"projector: projector ResamplerProjector cannot be converted "
            r"\(it does not implement original_projector\)",
        ),
    ],
    ids=["third-party-encoder", "resampler-projector"],
)
def test_export_names_the_part_that_cannot_be_converted(
    example_installed, tmp_path, capsys, part, replacement, message
) -> None:
    src = _checkpoint(tmp_path / "mm", part, replacement)
    assert cli_main(["export", "hf", str(src), str(tmp_path / "hf")]) == ConversionError.exit_code
    err = capsys.readouterr().err
    assert re.search(r"mm: not expressible as Video-LLaVA: " + message, err), err
    assert not (tmp_path / "hf").exists()


def test_a_backend_without_hf_model_cannot_be_converted() -> None:
    llm = TinyLM(TinyLMOptions(tokenizer="unused"), tokenizer=None)
    with pytest.raises(ConversionError, match=r"^LLM backend TinyLM cannot be converted \(it does not "
                                              r"implement hf_model\)$"):
        llm.hf_model()


def test_declared_weights_share_storage_with_the_parts(tmp_path) -> None:
    model = mmbind.load_pretrained(_checkpoint(tmp_path / "mm", "seed", 1))
    tower = model.encoders["video"].original_tower()
    assert (tower.feature_layer, tower.keep_cls, tower.config.hidden_size) == (-2, True, 24)
    projector = model.projector_for("image").original_projector()
    assert (projector.kind, projector.act, sorted(projector.state)) == (
        "mlp2x_gelu", "gelu", ["0.bias", "0.weight", "2.bias", "2.weight"]
    )
    with torch.no_grad():
        tower.state["post_layernorm.bias"].fill_(3.0)
        projector.state["2.bias"].fill_(4.0)
        model.llm.hf_model().state_dict()["lm_head.weight"].fill_(5.0)
    weights = model.state_dict()
    assert bool((weights["encoders.video.tower.post_layernorm.bias"] == 3.0).all())
    assert bool((weights["projectors.shared.layers.2.bias"] == 4.0).all())
    assert bool((weights["llm.model.lm_head.weight"] == 5.0).all())


def test_projector_loads_its_original_names_strictly(tmp_path) -> None:
    projector = mmbind.load_pretrained(_checkpoint(tmp_path / "mm", "seed", 2)).projector_for("image")
    state = {k: torch.full_like(v, 0.5) for k, v in projector.original_projector().state.items()}
    projector.load_original_state(state, where="mm_projector.bin")
    assert bool((projector.original_projector().state["0.weight"] == 0.5).all())
    del state["2.bias"]
    with pytest.raises(CheckpointError, match=r"mm_projector.bin: .*1 missing \(layers.2.bias\)"):
        projector.load_original_state(state, where="mm_projector.bin")
