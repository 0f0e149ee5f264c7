"""Token-compressing projectors (``spatial_pool``, ``resampler``, ``slowfast``): each against an independent
re-implementation (block means written out, the slow/fast order assembled by hand, a hand-written
multi-head cross-attention with the module's weights); ``output_tokens`` equals the projected length for
images and videos of several frame counts and grids, strides that do and do not divide them; the counts of
the docstrings' worked examples; mlp2x_gelu weights load into the pooling projectors; in a tiny model the
planned count (``item_tokens``) is what a forward splices, what the training data plans with (splicing,
packing, ``max_length``, length grouping), what the feature-cache path projects; saved models reload with
identical logits; bad options and encoders without a layout are rejected naming the option / projector."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import mmbind
from mmbind import PluginOptionsError, RecipeError
from mmbind.data import BadSample, Example, build_stage_data
from mmbind.data.collate import Collator
from mmbind.errors import InputError
from mmbind.interfaces import TokenLayout
from mmbind.model.multimodal_lm import CachedFeatures
from mmbind.train import TrainForward
from mmbind_plugins.projectors.frame_pool import pooled_side
from mmbind_plugins.projectors.mlp_gelu import MLPGeluProjector
from mmbind_plugins.projectors.resampler import ResamplerOptions, ResamplerProjector
from mmbind_plugins.projectors.slowfast import SlowFastOptions, SlowFastProjector
from mmbind_plugins.projectors.spatial_pool import SpatialPoolOptions, SpatialPoolProjector
from tests.support.train import TRAIN_RECIPE, make_data, tiny_train_recipe

IN, OUT = 6, 8
VIDEO_LLAVA = TRAIN_RECIPE.parent / "video_llava.yaml"
GRID_4X4 = [  # tiny LanguageBind towers at 56 px: 4 x 4 patches (video 1 CLS + 16 per frame, image 16)
    "model.encoders.video.options.config={image_size: 56}",
    "model.encoders.image.options.config={image_size: 56}",
]
PROJECTORS = {
    "spatial_pool": "model.projector={plugin: spatial_pool, shared: true, options: {stride: 2}}",
    "resampler": "model.projector={plugin: resampler, shared: true, options: {num_queries: 8, heads: 4}}",
    "slowfast": "model.projector={plugin: slowfast, shared: true, options: {slow_frames: 2, fast_stride: 4}}",
}
# tokens of a 4-frame video (4 x 17 from the encoder) and of an image (16) after each projector
PLANNED = {"spatial_pool": (4 * (1 + 2 * 2), 16), "resampler": (8, 8), "slowfast": (2 * 17 + 4 * (1 + 1), 16)}


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def spatial_pool(**options) -> SpatialPoolProjector:
    torch.manual_seed(0)
    return SpatialPoolProjector(IN, OUT, SpatialPoolOptions(**options)).eval()


def slowfast(**options) -> SlowFastProjector:
    torch.manual_seed(0)
    return SlowFastProjector(IN, OUT, SlowFastOptions(**options)).eval()


def block_means(frame: torch.Tensor, layout: TokenLayout, stride: int, keep_prefix: bool) -> torch.Tensor:
    """One frame's ``(prefix + h * w, D)`` tokens pooled by averaging each stride x stride block (cut at the
    grid's edge), written out cell by cell."""
    prefix, grid = frame[: layout.prefix], frame[layout.prefix:].reshape(layout.height, layout.width, -1)
    cells = [grid[i:i + stride, j:j + stride].reshape(-1, grid.shape[-1]).mean(0)
             for i in range(0, layout.height, stride) for j in range(0, layout.width, stride)]
    return torch.cat([prefix if keep_prefix else prefix[:0], torch.stack(cells)])


def frames_of(tokens: torch.Tensor, layout: TokenLayout) -> list[torch.Tensor]:
    """One item's ``(L, D)`` tokens as its frames' ``(per_frame, D)`` blocks."""
    return list(tokens.reshape(layout.frames, layout.per_frame, -1))


# ------------------------------------------------------------------------------------------ spatial_pool
@pytest.mark.parametrize(("layout", "stride", "keep_prefix"), [
    (TokenLayout(4, 1, 4, 4), 2, True),  # divides the grid
    (TokenLayout(3, 1, 5, 5), 2, True),  # 5 x 5 -> 3 x 3, edge windows of 2 and 1 tokens
    (TokenLayout(2, 0, 5, 3), 3, False),  # non-square, no prefix
    (TokenLayout(2, 2, 3, 4), 4, False),  # stride past the grid: one cell; two prefix tokens dropped
    (TokenLayout(5, 1, 4, 4), 1, False),  # stride 1: the grid as is, CLS dropped
])
def test_spatial_pool_is_the_mlp_then_each_frames_block_means(layout, stride, keep_prefix):
    projector = spatial_pool(stride=stride, keep_prefix=keep_prefix)
    tokens = randn(2, layout.tokens, IN)
    out = projector.project(tokens, layout)
    with torch.no_grad():
        mlp = projector.layers(tokens)
        expected = torch.stack([torch.cat([block_means(f, layout, stride, keep_prefix)
                                           for f in frames_of(item, layout)]) for item in mlp])
    assert out.shape == (2, projector.output_tokens(layout.tokens, layout), OUT)
    assert torch.allclose(out, expected, atol=1e-6)
    grid = mlp.reshape(2 * layout.frames, layout.per_frame, OUT)[:, layout.prefix:]  # avg_pool2d per frame
    pooled = [F.avg_pool2d(g.T.reshape(OUT, layout.height, layout.width), stride, ceil_mode=True,
                           count_include_pad=False).flatten(1).T for g in grid]
    cells = pooled_side(layout.height, stride) * pooled_side(layout.width, stride)
    per_frame = out.reshape(2 * layout.frames, -1, OUT)
    assert torch.allclose(per_frame[:, per_frame.shape[1] - cells:], torch.stack(pooled), atol=1e-6)


def test_spatial_pool_keeps_images_unless_pool_images():
    image = TokenLayout(1, 1, 4, 4)
    tokens = randn(3, 17, IN)
    kept = spatial_pool()
    assert kept.output_tokens(17, image) == 17
    assert torch.equal(kept.project(tokens, image), kept.layers(tokens))
    pooled = spatial_pool(pool_images=True)
    assert pooled.output_tokens(17, image) == 1 + 4
    expected = torch.stack([block_means(t, image, 2, True) for t in pooled.layers(tokens)])
    assert torch.allclose(pooled.project(tokens, image), expected, atol=1e-6)


def test_pooled_side_is_the_ceil_mode_size_of_avg_pool2d():
    for size in range(1, 12):
        for stride in range(1, 6):
            out = F.avg_pool2d(torch.zeros(1, 1, size, size), stride, ceil_mode=True, count_include_pad=False)
            assert out.shape[-1] == pooled_side(size, stride) == math.ceil(size / stride)


# ------------------------------------------------------------------------------------------ slowfast
@pytest.mark.parametrize(("frames", "slow", "stride", "expected_slow"), [
    (8, 2, 4, [0, 7]), (5, 3, 2, [0, 2, 4]), (6, 4, 3, [0, 1, 3, 5]), (2, 3, 2, [0, 1]), (7, 1, 4, [0]),
])
def test_slowfast_is_slow_frames_in_full_then_every_frame_pooled(frames, slow, stride, expected_slow):
    layout = TokenLayout(frames, 1, 5, 4)
    projector = slowfast(slow_frames=slow, fast_stride=stride)
    assert projector.slow_indices(frames) == expected_slow == list(
        np.linspace(0, frames - 1, min(slow, frames)).astype(int))
    tokens = randn(2, layout.tokens, IN, seed=frames)
    out = projector.project(tokens, layout)
    with torch.no_grad():
        items = []
        for item in projector.layers(tokens):
            blocks = frames_of(item, layout)
            fast = [block_means(b, layout, stride, True) for b in blocks]
            items.append(torch.cat([blocks[i] for i in expected_slow] + fast))
    fast_cells = pooled_side(5, stride) * pooled_side(4, stride)
    assert out.shape == (2, len(expected_slow) * 21 + frames * (1 + fast_cells), OUT)
    assert out.shape[1] == projector.output_tokens(layout.tokens, layout)
    assert torch.allclose(out, torch.stack(items), atol=1e-6)


def test_slowfast_keeps_images_whole():
    projector = slowfast()
    tokens = randn(2, 16, IN)
    image = TokenLayout(1, 0, 4, 4)
    assert projector.output_tokens(16, image) == 16
    assert torch.equal(projector.project(tokens, image), projector.layers(tokens))


# ------------------------------------------------------------------------------------------ resampler
def layer_norm(x: torch.Tensor, norm: torch.nn.LayerNorm) -> torch.Tensor:
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias


def linear(x: torch.Tensor, layer: torch.nn.Linear) -> torch.Tensor:
    return x @ layer.weight.T + layer.bias


def attention(queries: torch.Tensor, context: torch.Tensor, attn, heads: int) -> torch.Tensor:
    """Hand-written multi-head attention of one item's ``(Q, W)`` queries over its ``(L, W)`` context."""
    q, k, v = linear(queries, attn.q), linear(context, attn.k), linear(context, attn.v)
    size = q.shape[-1] // heads
    outs = []
    for h in range(heads):
        part = slice(h * size, (h + 1) * size)
        scores = q[:, part] @ k[:, part].T / math.sqrt(size)
        weights = torch.exp(scores - scores.max(-1, keepdim=True).values)
        outs.append((weights / weights.sum(-1, keepdim=True)) @ v[:, part])
    return linear(torch.cat(outs, dim=-1), attn.o)


def resampler_reference(projector: ResamplerProjector, item: torch.Tensor, heads: int) -> torch.Tensor:
    context, latents = linear(item, projector.context), projector.queries
    for block in projector.blocks:
        latents = latents + attention(layer_norm(latents, block.norm_latents),
                                      layer_norm(context, block.norm_context), block.attn, heads)
        hidden = linear(layer_norm(latents, block.norm_mlp), block.mlp[0])
        hidden = 0.5 * hidden * (1 + torch.erf(hidden / math.sqrt(2)))  # exact GELU
        latents = latents + linear(hidden, block.mlp[2])
    return linear(layer_norm(latents, projector.norm_out), projector.out)


@pytest.mark.parametrize(("heads", "depth", "width"), [(1, 1, None), (2, 2, 12), (4, 1, None)])
def test_resampler_matches_a_hand_written_cross_attention(heads, depth, width):
    torch.manual_seed(0)
    projector = ResamplerProjector(IN, OUT, ResamplerOptions(num_queries=5, heads=heads, depth=depth,
                                                             width=width)).eval()
    with torch.no_grad():
        for param in projector.parameters():  # LayerNorms away from identity, every weight exercised
            param.copy_(randn(*param.shape, seed=param.numel()) * 0.5)
    tokens = randn(3, 11, IN)
    out = projector.project(tokens, None)
    with torch.no_grad():
        expected = torch.stack([resampler_reference(projector, item, heads) for item in tokens])
    assert out.shape == (3, 5, OUT) and projector.output_tokens(11) == 5
    assert torch.allclose(out, expected, atol=1e-5)
    assert (out[0] - out[1]).abs().max() > 1e-3  # items differ


def test_resampler_counts_num_queries_for_any_item_and_ignores_token_order():
    torch.manual_seed(0)
    projector = ResamplerProjector(IN, OUT, ResamplerOptions(num_queries=7, heads=2)).eval()
    for length, layout in ((4, None), (68, TokenLayout(4, 1, 4, 4)), (2056, TokenLayout(8, 1, 16, 16))):
        assert projector.output_tokens(length, layout) == 7
        assert projector.project(randn(2, length, IN), layout).shape == (2, 7, OUT)
    tokens = randn(2, 20, IN)
    order = torch.randperm(20, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out, shuffled = projector(tokens), projector(tokens[:, order])
        changed = projector(torch.cat([tokens[:1], tokens[1:] * 2]))
    assert torch.allclose(out, shuffled, atol=1e-5)  # no positions of its own: token order only via features
    assert torch.equal(changed[0], out[0]) and not torch.allclose(changed[1], out[1])  # items independent


# ------------------------------------------------------------------------------------------ all three
def projector_of(name: str, **options):
    torch.manual_seed(0)
    if name == "resampler":
        return ResamplerProjector(IN, OUT, ResamplerOptions(heads=2, **options)).eval()
    return (spatial_pool if name == "spatial_pool" else slowfast)(**options)


@pytest.mark.parametrize(("name", "options"), [
    ("spatial_pool", {"stride": 2}), ("spatial_pool", {"stride": 3, "keep_prefix": False}),
    ("spatial_pool", {"stride": 2, "pool_images": True}), ("slowfast", {"slow_frames": 3, "fast_stride": 2}),
    ("slowfast", {"slow_frames": 2, "fast_stride": 3}), ("resampler", {"num_queries": 3}),
])
def test_output_tokens_is_the_projected_length(name, options):
    projector = projector_of(name, **options)
    for prefix, height, width in ((1, 4, 4), (0, 5, 5), (1, 3, 7)):
        for frames in (1, 2, 3, 5, 8):
            layout = TokenLayout(frames, prefix, height, width)
            with torch.no_grad():
                out = projector.project(randn(2, layout.tokens, IN), layout)
            assert out.shape == (2, projector.output_tokens(layout.tokens, layout), OUT), (layout, options)


def test_worked_examples_languagebind_video_and_image():
    video, image = TokenLayout.of(8 * 257, 1, 16, 16), TokenLayout.of(256, 0, 16, 16)
    assert video == TokenLayout(8, 1, 16, 16) and image == TokenLayout(1, 0, 16, 16)
    projectors = {name: projector_of(name) for name in ("spatial_pool", "resampler", "slowfast")}
    counts = {name: (proj.output_tokens(2056, video), proj.output_tokens(256, image))
              for name, proj in projectors.items()}
    assert counts == {"spatial_pool": (520, 256), "resampler": (64, 64), "slowfast": (650, 256)}
    assert spatial_pool(pool_images=True).output_tokens(256, image) == 64
    assert spatial_pool(keep_prefix=False).output_tokens(2056, video) == 512
    assert spatial_pool(stride=3).output_tokens(2056, video) == 8 * (1 + 36)


@pytest.mark.parametrize("name", ["spatial_pool", "slowfast"])
def test_pooling_projectors_load_mlp2x_gelu_weights(name):
    torch.manual_seed(1)
    mlp = MLPGeluProjector(IN, OUT).eval()
    projector = projector_of(name)
    assert set(projector.state_dict()) == set(mlp.state_dict()) == {
        "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"}
    projector.load_state_dict(mlp.state_dict(), strict=True)
    tokens, layout = randn(2, 4 * 17, IN), TokenLayout(4, 1, 4, 4)
    with torch.no_grad():
        assert torch.equal(projector.project(tokens[:, :17], TokenLayout(1, 1, 4, 4)), mlp(tokens[:, :17]))
        full = mlp(tokens)
        out = projector.project(tokens, layout)
    assert torch.allclose(out[:, -(1 + (4 if name == "spatial_pool" else 1)):],
                          torch.stack([block_means(f[-1], layout, 2 if name == "spatial_pool" else 4, True)
                                       for f in full.reshape(2, 4, 17, OUT)]), atol=1e-6)


@pytest.mark.parametrize("name", ["spatial_pool", "slowfast"])
def test_pooling_projectors_need_a_layout(name):
    projector = projector_of(name)
    with pytest.raises(RecipeError, match=rf"projector {name}: needs the arrangement of each item's tokens "
                                          r"\(frames, CLS, patch grid\) but the encoder declares none "
                                          r"for its 300 tokens"):
        projector.output_tokens(300, None)
    with pytest.raises(RecipeError, match=rf"projector {name}: .* declares none for its 17 tokens"):
        projector.project(randn(1, 17, IN), None)
    with pytest.raises(InputError, match=rf"projector {name}: 17 tokens per item do not match their layout "
                                         r"TokenLayout\(frames=2, .*\(34 tokens\)"):
        projector.project(randn(1, 17, IN), TokenLayout(2, 1, 4, 4))


@pytest.mark.parametrize(("override", "message"), [
    ("model.projector={plugin: spatial_pool, options: {stride: 0}}",
     r"invalid options for projector 'spatial_pool': model\.projector\.options\.stride: Input should be "
     r"greater than or equal to 1 \(got 0\)"),
    ("model.projector={plugin: spatial_pool, options: {strides: 2}}",
     r"model\.projector\.options\.strides: Extra inputs are not permitted"),
    ("model.projector={plugin: slowfast, options: {slow_frames: 0}}",
     r"invalid options for projector 'slowfast': model\.projector\.options\.slow_frames: Input should be "
     r"greater than or equal to 1"),
    ("model.projector={plugin: slowfast, options: {fast_stride: -1}}",
     r"model\.projector\.options\.fast_stride: Input should be greater than or equal to 1"),
    ("model.projector={plugin: resampler, options: {num_queries: 0}}",
     r"invalid options for projector 'resampler': model\.projector\.options\.num_queries: Input should be "
     r"greater than or equal to 1"),
    ("model.projector={plugin: resampler, options: {heads: 3, width: 64}}",
     r"invalid options for projector 'resampler': .*heads 3 does not divide width 64"),
])
def test_bad_options_are_rejected_naming_the_option(override, message):
    with pytest.raises(RecipeError, match=message):
        mmbind.load_recipe(VIDEO_LLAVA, overrides=[override])


def test_resampler_heads_must_divide_the_llm_width():
    spec = mmbind.load_recipe(VIDEO_LLAVA, ["model.projector={plugin: resampler, options: {heads: 3}}"])
    with pytest.raises(PluginOptionsError, match=r"resampler: options\.heads 3 does not divide the "
                                                 r"inner width 64 \(options\.width, by default the LLM's "
                                                 r"hidden size\)"):
        mmbind.build_model(spec)


# ------------------------------------------------------------------------------------------ in a model
@pytest.fixture(scope="module")
def tiny() -> Callable[[str], mmbind.MultimodalLM]:
    """The tiny Video-LLaVA (4 x 4 patch grids) with projector ``name``, each built once."""
    models: dict[str, mmbind.MultimodalLM] = {}

    def model(name: str) -> mmbind.MultimodalLM:
        if name not in models:
            spec = mmbind.load_recipe(VIDEO_LLAVA, overrides=[PROJECTORS[name], *GRID_4X4])
            models[name] = mmbind.build_model(spec).eval()
        return models[name]

    return model


def video_and_image_batch(model: mmbind.MultimodalLM) -> dict[str, torch.Tensor]:
    ids = model.config.placeholder_ids
    input_ids = torch.tensor([[1, ids["video"], 5, 6, 7], [1, 8, ids["image"], 9, ids["video"]]])
    return {"input_ids": input_ids, "videos": randn(2, 4, 3, 56, 56, seed=1), "images": randn(1, 3, 56, 56)}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PROJECTORS))
def test_item_tokens_is_what_a_forward_splices(name, tiny):
    model = tiny(name)
    video_tokens, image_tokens = PLANNED[name]
    assert model.encoders["video"].tokens_per_item(4) == 68
    assert model.encoders["image"].tokens_per_item() == 16
    assert (model.item_tokens("video", 4), model.item_tokens("image")) == (video_tokens, image_tokens)
    batch = video_and_image_batch(model)
    with torch.no_grad():
        out = model(**batch)
    lengths = out.attention_mask.sum(1).tolist()
    assert lengths == [4 + video_tokens, 3 + image_tokens + video_tokens]
    assert out.logits.shape[:2] == (2, max(lengths))
    frames = {1: 17, 2: 34, 3: 51}  # other frame counts plan and splice alike
    for count, tokens in frames.items():
        with torch.no_grad():
            spliced = model.prepare_inputs(batch["input_ids"][:1], videos=randn(1, count, 3, 56, 56))
        assert spliced.inputs_embeds.shape[1] == 4 + model.item_tokens("video", count)
        assert model.encoders["video"].tokens_per_item(count) == tokens


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PROJECTORS))
def test_the_feature_cache_path_projects_with_the_layout(name, tiny):
    model = tiny(name)
    videos = randn(2, 4, 3, 56, 56, seed=2)
    with torch.no_grad():
        fresh = model.encode({"video": videos})["video"]
        encoded = model.encoders["video"](videos)
        cached = model.encode({}, {"video": CachedFeatures(encoded, torch.tensor([0, 1]))})["video"]
        mixed = model.encode({"video": videos[1:]}, {"video": CachedFeatures(encoded[:1], torch.tensor([0]))})
    assert fresh.shape == (2, PLANNED[name][0], 64)
    assert torch.allclose(cached, fresh, atol=1e-6) and torch.allclose(mixed["video"], fresh, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PROJECTORS))
def test_a_saved_model_reloads_with_identical_logits(name, tiny, tmp_path):
    model = tiny(name)
    batch = video_and_image_batch(model)
    saved = model.save_pretrained(tmp_path / name)
    again = mmbind.load_pretrained(saved).eval()
    assert type(again.projectors["shared"]) is type(model.projectors["shared"])
    with torch.no_grad():
        assert torch.equal(again(**batch).logits, model(**batch).logits)


@pytest.mark.slow
def test_training_data_plans_with_the_compressed_count(tmp_path):
    data = make_data(tmp_path / "data", images=1, videos=2, text_only=1)
    recipe = tiny_train_recipe(data, PROJECTORS["spatial_pool"], *GRID_4X4)
    model = mmbind.build_model(recipe).eval()
    dataset, _, collator = build_stage_data(recipe.data, "finetune", recipe.stages["finetune"], model)
    assert dataset.media["video"].tokens == model.item_tokens("video", 4) == 20  # not the encoder's 68
    assert dataset.media["image"].tokens == 16
    examples = [dataset[i] for i in range(len(dataset))]
    index, video = next((i, e) for i, e in enumerate(examples) if [m.modality for m in e.media] == ["video"])
    assert video.length == len(video.input_ids) - 1 + 20 and not video.truncated
    with torch.no_grad():
        out = model(**collator([video]).model_inputs())
        padded = TrainForward(model)(collator(examples))
        packed = TrainForward(model)(Collator(collator.pad_id, packing=True)(examples))  # positions by length
    assert out.logits.shape[1] == video.length  # what the model splices is what the data planned
    assert torch.allclose(padded, packed, rtol=1e-5, atol=1e-4)
    source, sample = dataset.index[index]
    raw = dataset.sources[source].samples[sample]
    words = sum(len(turn["value"].split()) for turn in raw["conversations"])
    assert dataset.approx_length(index) == ("video", words + 20)  # length grouping
    assert 20 < video.length < 68  # max_length: the video fits whole only by its compressed count
    recipe = tiny_train_recipe(data, PROJECTORS["spatial_pool"], *GRID_4X4,
                               f"stages.finetune.max_length={video.length}")
    dataset, _, _ = build_stage_data(recipe.data, "finetune", recipe.stages["finetune"], model)
    again = dataset[index]
    assert isinstance(again, Example) and not isinstance(again, BadSample)
    assert again.id == video.id and again.length == video.length and not again.truncated
