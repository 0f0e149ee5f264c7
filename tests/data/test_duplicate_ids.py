"""Sample ids are unique within a dataset (all its files): a sample repeating an earlier sample's id is
skipped and reported with its id, where it is and where the kept first one is, like any bad sample
(``on_bad_sample: fail`` stops the run on it); samples without an id are never duplicates."""

from __future__ import annotations

import json

import pytest

import mmbind
from mmbind.data import BadSample, Example, build_stage_data
from mmbind.data.records import duplicate_ids, read_source
from tests.support.train import make_data, tiny_train_recipe


def test_duplicate_ids_across_files_keep_the_first(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps([{"id": "x"}, {"id": 1}, {"id": "x"}, {"no": "id"}]))
    (tmp_path / "b.json").write_text(json.dumps([{"id": "1"}, {"no": "id"}, "junk", {"id": "y"}]))
    sources = [read_source(str(tmp_path / name)) for name in ("a.json", "b.json")]
    assert duplicate_ids(sources) == {(0, 2): "a.json#0", (1, 0): "a.json#1"}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    data = make_data(tmp_path_factory.mktemp("data"), images=2, videos=0, text_only=1)
    samples = json.loads((data / "finetune.json").read_text())
    first = samples[0]
    again = {**first, "conversations": [first["conversations"][0], {"from": "gpt", "value": "Another."}]}
    (data / "more.json").write_text(json.dumps([again, samples[1]]))
    files = f"[{{path: {data / 'finetune.json'}}}, {{path: {data / 'more.json'}}}]"
    recipe = tiny_train_recipe(data, f"data.datasets.finetune.files={files}")
    model = mmbind.build_model(recipe).eval()
    dataset, _, _ = build_stage_data(recipe.data, "finetune", recipe.stages["finetune"], model)
    return samples, [dataset[i] for i in range(len(dataset))]


def test_a_repeated_id_is_a_bad_sample_and_the_first_is_kept(prepared):
    samples, items = prepared
    n = len(samples)
    assert all(isinstance(item, Example) for item in items[:n])  # the first file: every sample kept
    bad = items[n:]
    assert [b.id for b in bad] == [samples[0]["id"], samples[1]["id"]]
    assert all(isinstance(b, BadSample) for b in bad)
    assert bad[0].reason == (f"sample {samples[0]['id']}: duplicate id (more.json#0; the first sample with "
                             "this id, finetune.json#0, is kept)")
