"""The shipped recipes: Video-LLaVA and its ablations differ only in the swapped part; tiny ones compose."""

from __future__ import annotations

import pytest
import torch

import mmbind
from mmbind.interfaces import BuildContext
from mmbind.recipe.paths import bundled_recipes_dir, resolve_recipe_path

# ablation -> the only model paths (dotted) allowed to differ from Video-LLaVA's
ABLATIONS = {
    "separated_clip": {"model.encoders.image"},
    "separated_mae": {"model.encoders.image"},
    "llava15_languagebind": {"model.encoders.video"},
}


def flatten(data, prefix=""):
    """Parts (encoders, projector, llm) as whole values, everything else leaf by leaf."""
    out = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and not ("plugin" in value and "options" in value):
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def differing(a, b):
    fa, fb = flatten(a), flatten(b)
    return {k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k)}


def resolved(name):
    return mmbind.load_recipe(resolve_recipe_path(name)).model_dump(mode="json")


@pytest.mark.parametrize("ablation", sorted(ABLATIONS))
@pytest.mark.parametrize("scale", ["", "tiny/"])
def test_ablations_differ_only_in_the_swapped_part(scale, ablation):
    base = resolved(f"{scale}video_llava" if scale else "video_llava_7b")
    variant = resolved(scale + ablation)
    assert differing(base, variant) == ABLATIONS[ablation] | {"name"}


def test_tiny_recipe_matches_the_7b_structure():
    tiny, full = resolved("tiny/video_llava"), resolved("video_llava_7b")
    for part in ("image", "video"):
        assert tiny["model"]["encoders"][part]["plugin"] == full["model"]["encoders"][part]["plugin"]
        assert tiny["model"]["encoders"][part]["options"]["select_layer"] == -2
    assert tiny["model"]["projector"] == full["model"]["projector"]
    assert full["model"]["encoders"]["video"]["options"] | {"weights": None} == {
        **tiny["model"]["encoders"]["video"]["options"], "preset": "vit_l_14", "num_frames": 8,
        "weights": None,
    }


def test_7b_recipe_points_at_local_weights_only():
    model = resolved("video_llava_7b")["model"]
    assert model["llm"]["options"]["path"] == "weights/vicuna-7b-v1.5"
    assert model["encoders"]["video"]["options"]["weights"] == "weights/LanguageBind_Video_merge"
    with pytest.raises(mmbind.CheckpointError, match="weights/vicuna-7b-v1.5"):
        mmbind.build_model(mmbind.load_recipe(resolve_recipe_path("video_llava_7b")))


@pytest.mark.parametrize("name", ["video_llava", "separated_clip", "separated_mae", "llava15_languagebind"])
def test_tiny_variants_compose_and_run(name):
    model = mmbind.build_model(mmbind.load_recipe(resolve_recipe_path(f"tiny/{name}"))).eval()
    ids = model.config.placeholder_ids
    image_shape = model.encoders["image"].item_shape
    media = {"image": torch.randn(1, *image_shape)}
    row = [1, ids["image"], 5]
    if "video" in model.encoders:
        media["video"] = torch.randn(1, 4, 3, 28, 28)
        row += [ids["video"], 6]
    out = model(torch.tensor([row]), media=media)
    expected = len(row) - len(media) + sum(model.encoders[m].tokens_per_item(4) for m in media)
    assert out.logits.shape[1] == expected


def test_every_shipped_recipe_resolves():
    files = sorted(p.relative_to(bundled_recipes_dir()) for p in bundled_recipes_dir().rglob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        if path.parts[0] == "ablations":  # sweep files, not recipes
            continue
        mmbind.load_recipe(bundled_recipes_dir() / path)


def test_long_recipes_pool_more_frames_into_as_many_tokens():
    """video_llava_7b_long: 32 frames at <= 2048 visual tokens (8 unpooled frames: 2056); the tiny
    variant builds and splices 16 pooled frames into fewer tokens than tiny/train's 4 unpooled ones."""
    from mmbind.interfaces import TokenLayout
    from mmbind.registry import default_registry

    long = resolved("video_llava_7b_long")
    assert long["data"]["video_frames"] == 32
    assert long["model"]["encoders"]["video"]["options"]["chunk_frames"] == 8
    entry = default_registry().get("projector", "spatial_pool")
    projector = entry.build(entry.options.model_validate(long["model"]["projector"]["options"]), 8, 8,
                            BuildContext(modality="video", temporal=True))
    assert projector.output_tokens(32 * 257, TokenLayout(32, 1, 16, 16)) == 2048 <= 8 * 257
    tiny = mmbind.build_model(mmbind.load_recipe(resolve_recipe_path("tiny/long"))).eval()
    short = mmbind.build_model(mmbind.load_recipe(resolve_recipe_path("tiny/train"))).eval()
    assert (tiny.item_tokens("video", 16), short.item_tokens("video", 4)) == (16, 20)
    ids = tiny.config.placeholder_ids
    out = tiny(torch.tensor([[1, ids["video"], 5]]), media={"video": torch.randn(1, 16, 3, 28, 28)})
    assert out.logits.shape[1] == 2 + 16
