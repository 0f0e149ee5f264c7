"""A third-party plugin package (examples/mmbind-example-encoder) used from a recipe, mmbind unchanged.

The example's source folder and a ``*.dist-info`` carrying its entry point are put on ``sys.path``, which
is exactly what ``pip install`` leaves behind; mmbind discovers it through the ``mmbind`` entry points.
"""

from __future__ import annotations

import re

import pytest
import torch

import mmbind
from mmbind.registry import load_registry
from tests.support.helpers import EXAMPLE_PLUGIN_SRC, forget_modules, make_dist_info


@pytest.fixture
def installed_example(tmp_path, monkeypatch):
    pyproject = (EXAMPLE_PLUGIN_SRC / "pyproject.toml").read_text()
    name, target = re.search(r'^(\w+) = "(mmbind_example_encoder[\w.]*)"', pyproject, re.M).groups()
    make_dist_info(tmp_path, "mmbind-example-encoder", {name: target})
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN_SRC))
    yield load_registry()
    forget_modules("mmbind_example_encoder")


def test_example_plugin_is_discovered(installed_example):
    record = next(r for r in installed_example.records if r.name == "patch_mean")
    assert (record.kind, record.source, record.status) == ("encoder", "mmbind-example-encoder", "ok")


def test_example_plugin_composes_from_a_recipe_with_a_new_modality(
    installed_example, tiny_recipe_path, tmp_path
):
    recipe = mmbind.load_recipe(
        tiny_recipe_path,
        overrides=[
            "model.encoders.image={plugin: patch_mean, options: {image_size: 28, patch_size: 7, width: 32}}",
            "model.encoders.depth={plugin: patch_mean, options: {image_size: 28, patch_size: 14, width: 32}}",
        ],
        registry=installed_example,
    )
    assert recipe.model.encoders["image"].options == {"image_size": 28, "patch_size": 7, "width": 32}
    model = mmbind.build_model(recipe, installed_example).eval()
    ids = model.config.placeholder_ids
    assert set(ids) == {"image", "video", "depth"} and len(set(ids.values())) == 3
    input_ids = torch.tensor([[1, ids["depth"], 2, ids["image"], 3]])
    out = model(input_ids, media={"depth": torch.randn(1, 3, 28, 28), "image": torch.randn(1, 3, 28, 28)})
    assert out.logits.shape[1] == 3 + 4 + 16  # depth: 2x2 patches, image: 4x4 patches
    model.save_pretrained(tmp_path / "m")
    again = mmbind.load_pretrained(tmp_path / "m", registry=installed_example)
    assert torch.equal(again.encoders["depth"].embed.weight, model.encoders["depth"].embed.weight)


def test_wrong_options_for_the_third_party_encoder(installed_example, tiny_recipe_path):
    with pytest.raises(mmbind.RecipeError,
                       match=r"invalid options for encoder 'patch_mean': "
                             r"model\.encoders\.image\.options\.patch_size: "
                             r"Input should be greater than or equal to 1 \(got 0\)"):
        mmbind.load_recipe(
            tiny_recipe_path,
            overrides=["model.encoders.image={plugin: patch_mean, options: {patch_size: 0}}"],
            registry=installed_example,
        )
