"""Fault suite, bad samples: any failure while preparing one sample (a literal media tag in an answer, a lone
surrogate, a tokenizer or decoder exception) skips and reports that sample with its id and one reason; a
stage whose samples are all bad fails with exit code 3 and saves nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

import mmbind
from mmbind.data import BadSample, Example, build_stage_data
from mmbind.errors import NoUsableDataError
from tests.support.train import TRAIN_RECIPE, data_overrides, make_data, tiny_train_recipe

_Q = {"from": "human", "value": "<image>\nWhat colour is it?"}


def _sample(sid: str, answer: str, image: bool = True, question: dict | None = None) -> dict:
    sample = {"id": sid, "conversations": [question or _Q, {"from": "gpt", "value": answer}]}
    if image:
        sample["image"] = IMAGE
    return sample


IMAGE = "images/red.png"  # written by the `data` fixture

BAD_SAMPLES = {  # id -> (sample, expected reason fragment)
    "literal-image-in-answer": (lambda: _sample("literal-image-in-answer", "It is <image> red."),
                                "sample literal-image-in-answer: 2 <image> placeholder(s) in the token ids, "
                                "1 image file(s)"),
    "literal-image-text-only": (lambda: _sample("literal-image-text-only", "See <image>.", image=False,
                                                question={"from": "human", "value": "Hi?"}),
                                "sample literal-image-text-only: 1 <image> placeholder(s) in the token ids, "
                                "0 image file(s)"),
    "lone-surrogate": (lambda: _sample("lone-surrogate", "It is \udfff red."),
                       "sample lone-surrogate: conversations[1]: text is not valid Unicode (lone surrogate "
                       "'\\udfff' at character 6)"),
    "not-an-object": (lambda: ["just", "a", "list"], "expected an object, got list"),
    "missing-image": (lambda: {**_sample("missing-image", "Red."), "image": "images/nope.png"}, "nope.png"),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = make_data(tmp_path_factory.mktemp("data"), images=1, videos=0, text_only=1)
    samples = json.loads((root / "finetune.json").read_text())
    shutil.copy(root / next(s["image"] for s in samples if "image" in s), root / IMAGE)
    samples += [make() for make, _ in BAD_SAMPLES.values()]
    (root / "finetune.json").write_text(json.dumps(samples))
    return root


@pytest.fixture(scope="module")
def prepared(data):
    recipe = tiny_train_recipe(data)
    model = mmbind.build_model(recipe).eval()
    dataset, _, _ = build_stage_data(recipe.data, "finetune", recipe.stages["finetune"], model)
    items = [dataset[i] for i in range(len(dataset))]
    return dataset, items


@pytest.mark.parametrize("sid", sorted(BAD_SAMPLES))
def test_a_bad_sample_is_reported_with_its_id_and_one_reason(prepared, sid):
    _, items = prepared
    bad = {b.id: b.reason for b in items if isinstance(b, BadSample)}
    key = sid if sid != "not-an-object" else next(k for k in bad if k.startswith("finetune.json#"))
    assert BAD_SAMPLES[sid][1] in bad[key]
    assert "\n" not in bad[key]
    assert sum(isinstance(i, Example) for i in items) == 2  # the good image and text samples still load


def test_any_exception_while_preparing_a_sample_becomes_a_bad_sample(prepared, monkeypatch):
    dataset, items = prepared
    good = next(i for i, item in enumerate(items) if isinstance(item, Example) and item.media)

    def explode(*_, **__):
        raise TypeError("argument 'text': 'str' object cannot be converted to 'PyString'")

    monkeypatch.setattr(dataset.tokenizer, "encode", explode)
    item = dataset[good]
    assert isinstance(item, BadSample) and item.id == items[good].id
    assert item.reason == (f"sample {item.id}: TypeError: argument 'text': 'str' object cannot be converted "
                           "to 'PyString'")


def _all_bad(root, name: str, kinds: list[str]) -> None:
    (root / name).write_text(json.dumps([BAD_SAMPLES[k][0]() for k in kinds]))


@pytest.mark.slow
@pytest.mark.parametrize("kinds", [["literal-image-in-answer"], ["lone-surrogate", "missing-image"]],
                         ids=["literal-tag", "surrogate-and-missing-media"])
def test_a_stage_whose_samples_are_all_bad_fails_with_exit_3_and_saves_nothing(data, tmp_path, kinds):
    _all_bad(data, "all_bad.json", kinds)
    overrides = [*data_overrides(data), f"data.datasets.pretrain.files=[{{path: {data / 'all_bad.json'}}}]"]
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "mmbind", "train", str(TRAIN_RECIPE), *overrides, "--output",
                           str(run), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == NoUsableDataError.exit_code == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    message = " ".join(proc.stderr.split())
    expected = f"stage pretrain: dataset 'pretrain': no usable sample: all {len(kinds)} sample(s) are bad"
    assert expected in message
    assert kinds[0] in message
    assert not (run / "stages").exists() and not (run / "summary.json").exists()
