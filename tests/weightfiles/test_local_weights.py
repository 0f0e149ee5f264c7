"""mmbind.weightfiles: reading local state dicts in every published layout, strict loading errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from mmbind import CheckpointError
from mmbind.weightfiles import load_strict, read_state_dict, strip_prefix


def make_state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"a.weight": torch.randn(3, 2, generator=g), "a.bias": torch.randn(3, generator=g),
            "b.weight": torch.randn(4, 3, generator=g)}


def assert_same(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert sorted(got) == sorted(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key


def write_shards(directory: Path, state: dict[str, torch.Tensor], kind: str) -> Path:
    """Two shards plus an index, as transformers writes them."""
    names = sorted(state)
    groups = [names[:1], names[1:]]
    weight_map = {}
    for i, group in enumerate(groups, start=1):
        ext = "safetensors" if kind == "safetensors" else "bin"
        stem = "model" if kind == "safetensors" else "pytorch_model"
        file = directory / f"{stem}-{i:05d}-of-00002.{ext}"
        shard = {k: state[k] for k in group}
        save_file(shard, str(file)) if kind == "safetensors" else torch.save(shard, file)
        weight_map.update({k: file.name for k in group})
    index_name = "model.safetensors.index.json" if kind == "safetensors" else "pytorch_model.bin.index.json"
    index = directory / index_name
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return index


def test_single_safetensors_file_and_directory(tmp_path):
    state = make_state()
    save_file(state, str(tmp_path / "model.safetensors"))
    assert_same(read_state_dict(tmp_path / "model.safetensors"), state)
    assert_same(read_state_dict(tmp_path), state)
    assert_same(read_state_dict(str(tmp_path)), state)


@pytest.mark.parametrize("kind", ["safetensors", "bin"])
def test_sharded_checkpoints_by_index_or_directory(tmp_path, kind):
    state = make_state()
    index = write_shards(tmp_path, state, kind)
    assert_same(read_state_dict(index), state)
    assert_same(read_state_dict(tmp_path), state)


def test_missing_shard_is_named(tmp_path):
    index = write_shards(tmp_path, make_state(), "safetensors")
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"00002-of-00002\.safetensors: shard listed in .* is missing"):
        read_state_dict(index)


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pth"])
def test_torch_files(tmp_path, suffix):
    state = make_state()
    torch.save(state, tmp_path / f"weights{suffix}")
    assert_same(read_state_dict(tmp_path / f"weights{suffix}"), state)
    assert_same(read_state_dict(tmp_path), state)  # the only weights file in the directory


@pytest.mark.parametrize("wrapper", ["model", "state_dict"])
def test_training_checkpoint_wrapper_is_unwrapped(tmp_path, wrapper):
    state = make_state()
    torch.save({wrapper: state, "epoch": 3}, tmp_path / "ckpt.pt")
    assert_same(read_state_dict(tmp_path / "ckpt.pt"), state)


def test_nonexistent_path_is_named_and_nothing_downloads(tmp_path):
    with pytest.raises(CheckpointError, match=r"LanguageBind/LanguageBind_Image: no such file or directory"):
        read_state_dict("LanguageBind/LanguageBind_Image")  # a hub id is not a local path
    with pytest.raises(CheckpointError, match=rf"{tmp_path}/nope.safetensors: no such file"):
        read_state_dict(tmp_path / "nope.safetensors")


def test_directory_without_weights_or_with_several(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CheckpointError, match=r": no weights file found \(looked for model\.safetensors"):
        read_state_dict(tmp_path)
    torch.save(make_state(), tmp_path / "a.pt")
    torch.save(make_state(), tmp_path / "b.pt")
    with pytest.raises(CheckpointError, match=r"several weights files and no shard index \(a\.pt, b\.pt\)"):
        read_state_dict(tmp_path)


class Payload:  # a pickled object that weights_only=True must refuse
    pass


def test_unsafe_pickle_is_refused(tmp_path):
    file = tmp_path / "evil.bin"
    torch.save({"x": Payload()}, file)
    with pytest.raises(CheckpointError, match=r"evil\.bin: cannot be read with torch\.load\(weights_only="):
        read_state_dict(file)


def test_non_tensor_entries_and_unknown_formats(tmp_path):
    torch.save({"w": torch.zeros(1), "note": "hello"}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match=r"x\.pt: not a state dict: entry 'note' holds a str"):
        read_state_dict(tmp_path / "x.pt")
    (tmp_path / "w.npz").write_bytes(b"\0")
    with pytest.raises(CheckpointError, match=r"w\.npz: unknown weights format"):
        read_state_dict(tmp_path / "w.npz")
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match=r"bad\.safetensors: unreadable safetensors file"):
        read_state_dict(tmp_path / "bad.safetensors")


def test_strip_prefix_keeps_only_that_subtree():
    state = {
        "vision_model.a": torch.zeros(1), "vision_model.b.c": torch.ones(1), "text_model.a": torch.ones(1),
    }
    stripped = strip_prefix(state, "vision_model.")
    assert sorted(stripped) == ["a", "b.c"]
    assert stripped["b.c"] is state["vision_model.b.c"]


def make_module() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 4))


def test_load_strict_copies_values():
    source, target = make_module(), make_module()
    load_strict(target, source.state_dict(), "src")
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_load_strict_lists_missing_and_unexpected():
    state = make_module().state_dict()
    del state["1.bias"]
    state.update({f"extra.{i}": torch.zeros(1) for i in range(7)})
    with pytest.raises(
        CheckpointError,
        match=r"^src: weights do not match the model: 1 missing \(1\.bias\); "
        r"7 unexpected \(extra\.0, extra\.1, extra\.2, extra\.3, extra\.4, \.\.\. \(\+2 more\)\)$",
    ):
        load_strict(make_module(), state, "src")


def test_load_strict_names_a_mis_shaped_key():
    state = make_module().state_dict()
    state["0.weight"] = torch.zeros(3, 5)
    with pytest.raises(
        CheckpointError, match=r"^src: 0\.weight has shape \(3, 5\), the model expects \(3, 2\)$"
    ):
        load_strict(make_module(), state, "src")
