"""The recipe's shard fields: a dataset file names exactly one of ``path`` and ``shards`` (roots only with
``path``), ``data.shard_cache.max_bytes`` takes sizes such as 20GB, a recipe naming shards without the
libraries that read them is refused when it loads, and recipes without shards dump as before."""

from __future__ import annotations

import pytest

import mmbind.recipe.shard_support as shard_support
from mmbind.errors import RecipeError
from mmbind.recipe.byte_sizes import parse_size
from tests.support.train import make_data, tiny_train_recipe


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data"), images=1, videos=0, text_only=1)


@pytest.mark.parametrize(("files", "expected"), [
    ("[{weight: 1}]", "give exactly one of 'path' (a JSON file) and 'shards'"),
    ("[{path: a.json, shards: s}]", "give exactly one of 'path' (a JSON file) and 'shards'"),
    ("[{shards: s, image_root: i}]", "image_root / video_root / media_roots apply to 'path' files"),
])
def test_a_file_names_exactly_one_source(data, files, expected):
    with pytest.raises(RecipeError, match=r"data\.datasets\.finetune\.files\.0") as caught:
        tiny_train_recipe(data, f"data.datasets.finetune.files={files}")
    assert expected in str(caught.value)


def test_sizes_are_read_with_their_unit(data):
    recipe = tiny_train_recipe(data, "data.datasets.finetune.files=[{shards: s}]",
                               "data.shard_cache={dir: c, max_bytes: 20GB}")
    assert recipe.data.shard_cache_spec().max_bytes == 20 * 10**9
    assert recipe.data.datasets["finetune"].files[0].shards == "s"
    assert [parse_size(t) for t in ("512MiB", "1.5kB", "4096")] == [512 * 2**20, 1500, 4096]
    with pytest.raises(RecipeError, match="expected a size such as 20GB, 256MB or 512MiB, got 'lots'"):
        tiny_train_recipe(data, "data.shard_cache={max_bytes: lots}")


def test_shards_without_their_libraries_are_refused_when_the_recipe_loads(data, monkeypatch):
    monkeypatch.setattr(shard_support, "missing_shard_libraries", lambda: ["webdataset", "wids"])
    tiny_train_recipe(data)  # a recipe without shards needs none of them
    with pytest.raises(RecipeError) as caught:
        tiny_train_recipe(data, "data.datasets.finetune.files=[{shards: s}]")
    assert str(caught.value).endswith("data.datasets.finetune.files.0.shards: reading shards needs "
                                      "webdataset, wids, not installed (pip install 'mmbind[shards]')")


def test_a_recipe_without_shards_dumps_as_before(data):
    dumped = tiny_train_recipe(data).model_dump(mode="json")["data"]
    assert "shard_cache" not in dumped
    assert all("shards" not in f for d in dumped["datasets"].values() for f in d["files"])
