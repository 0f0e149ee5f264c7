"""``kind: align`` stages: recipe validation, LanguageBind's video-from-image initialisation, and real runs on
the tiny synthetic dataset (contrastive loss falls, retrieval beats chance, the text encoder stays frozen in
the video stage, outputs reload, determinism, resume continues an interrupted stage, stand-alone encoders)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import mmbind
from mmbind.data.build import run_readers
from mmbind.data.captions import MediaCaptions, caption_ids, stage_sources
from mmbind.data.collate import PairCollator
from mmbind.errors import RecipeError
from mmbind.interfaces import TokenLayout
from mmbind.model.weights import load_state_dict
from mmbind.recipe import recipe_from_dict
from mmbind.recipe.stage_options import AlignOptions
from mmbind.registry import default_registry
from mmbind.train import StepInfo, read_run_recipe, train
from mmbind.train.align import AlignLoss, PoolingHead, build_align, clip_loss, retrieval_accuracy
from mmbind.train.checkpoint import read_state
from mmbind.train.encoder_init import init_encoder_from
from mmbind.train.loop import Interrupt
from mmbind.train.metrics import MetricsLog
from mmbind.train.text_encoder import load_text_tower
from tests.support.train import loss_values, make_data

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "mmbind" / "recipes" / "tiny" / "video_llava.yaml"
ALIGN = {"kind": "align", "dataset": "captions", "lr": 2.0e-3, "global_batch": 8, "warmup_ratio": 0.0}


def recipe(data: Path, stages: dict, **model) -> mmbind.Recipe:
    """The tiny Video-LLaVA on ``data`` with ``stages``."""
    raw = {
        "base": str(TINY), "model": {"llm": {"options": {"tokenizer": str(data / "tokenizer")}}, **model},
        "data": {"video_frames": 4,
                 "datasets": {"captions": {"template": "plain",
                                           "files": [{"path": str(data / "pretrain.json")}]}}},
        "stages": stages,
    }
    path = data / f"recipe-{abs(hash(json.dumps(raw, sort_keys=True)))}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return mmbind.load_recipe(path)


UNITED = {
    "align_image": {**ALIGN, "max_steps": 40, "options": {"modality": "image"}},
    "align_video": {**ALIGN, "max_steps": 30, "options": {
        "modality": "video", "init_from_encoder": "image",
        "text_encoder": {"train": False, "init_from": "align_image"}}},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("data"), images=16, videos=16, text_only=0)


@pytest.fixture(scope="module")
def united(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("united") / "run"
    summary = train(recipe(data, UNITED), run, progress=False)
    return run, summary


def _weights(directory: Path) -> dict[str, torch.Tensor]:
    return load_state_dict(directory)[0]


# ------------------------------------------------------------------------------------------ recipes
@pytest.mark.parametrize(("stage", "message"), [
    ({"kind": "contrast"}, r"stages\.s\.kind: unknown stage kind 'contrast'; available: .*align.*lm.*mae"),
    ({"kind": "aling"}, r"stages\.s\.kind: unknown stage kind 'aling'; did you mean 'align'\?"),
    ({"kind": "align"}, r"stages\.s: Value error, kind align: options\.modality: Field required"),
    ({"kind": "mae", "options": {}}, r"kind mae: options\.modality: Field required"),
    ({"kind": "align", "options": {"modality": "audio"}},
     r"stages\.s\.options\.modality: the model has no 'audio' encoder \(it has: image, video\)"),
    ({"kind": "align", "options": {"modality": "video", "text_encoder": {"train": False}}},
     r"train: false needs init_from"),
    ({"kind": "align", "options": {"modality": "video", "text_encoder": {"init_from": "later"}}},
     r"text_encoder\.init_from: 'later' is not an earlier align stage"),
    ({"kind": "align", "options": {"modality": "video", "init_from_encoder": "nowhere"}},
     r"init_from_encoder: 'nowhere' is neither a modality of the model"),
    ({"kind": "align", "options": {"modality": "image", "text_encoder": {"config": {"hiden_size": 8}}}},
     r"unknown CLIPTextConfig field\(s\) hiden_size"),
    ({"kind": "align", "train": ["llm"], "options": {"modality": "image"}}, r"kind align: train is implied"),
    ({"kind": "align", "lr": {"encoder:image": 0.1}, "options": {"modality": "image"}},
     r"lr must be one number"),
    ({"options": {"modality": "image"}},
     r"options: kind lm takes no options; 'modality' is an option of kind align / mae, not of kind lm"),
    ({"kind": "mae", "options": {"modality": "image", "beta": 0.1}},
     r"kind mae: options\.beta: Extra inputs are not permitted .*'beta' is an option of kind dpo, not of "
     r"kind mae"),
    ({"kind": "align", "options": {"modality": "image", "encoder": {"plugin": "languagebind_image",
                                                                    "options": {"preset": "huge"}}}},
     r"invalid options for encoder 'languagebind_image': stages\.s\.options\.encoder\.options\.preset"),
    ({"kind": "align", "options": {"modality": "video", "encoder": {"plugin": "languagebind_image"}}},
     r"stages\.s\.options\.encoder: encoder 'languagebind_image' cannot serve modality 'video'"),
])
def test_bad_stage_kinds_are_recipe_errors(data, stage, message):
    with pytest.raises(RecipeError, match=message):
        recipe(data, {"s": stage, "later": {**ALIGN, "options": {"modality": "image"}}})


def test_align_stage_defaults_and_implied_parts(data):
    stages = recipe(data, UNITED).stages
    first, second = stages["align_image"], stages["align_video"]
    assert (first.train, first.per_device_batch) == (["encoder:image"], 8)
    assert second.train == ["encoder:video"]
    options = second.kind_options()
    assert (options.text_encoder.train, options.text_encoder.init_from, options.init_from_encoder) == (
        False, "align_image", "image")
    assert first.kind_options().logit_scale == pytest.approx(torch.log(torch.tensor(1 / 0.07)).item())


# ------------------------------------------------------------------------------------------- pieces
def test_video_tower_starts_as_the_image_tower_with_copied_temporal_attention():
    model = mmbind.build_model(mmbind.load_recipe(TINY))
    image, video = model.encoders["image"], model.encoders["video"]
    init_encoder_from(video, image, "test")
    src = image.tower.state_dict()
    for name, tensor in video.tower.state_dict().items():
        if name.endswith("temporal_embedding"):
            assert torch.count_nonzero(tensor) == 0
        else:
            spatial = (name.replace("temporal_attn.", "self_attn.")
                       .replace("temporal_layer_norm1.", "layer_norm1."))
            assert torch.equal(tensor, src[spatial]), name
    layer = video.tower.encoder.layers[0]
    assert torch.equal(layer.temporal_attn.q_proj.weight, layer.self_attn.q_proj.weight)
    assert layer.temporal_attn.q_proj.weight.data_ptr() != layer.self_attn.q_proj.weight.data_ptr()  # copies
    # a video of one repeated frame: the frames only see copies of themselves, so they stay identical
    out = video(torch.randn(1, 1, 3, 28, 28).expand(1, 4, 3, 28, 28))
    assert out.shape == (1, 4 * 5, 32)
    frames = out.view(1, 4, 5, 32)
    assert torch.allclose(frames, frames[:, :1].expand_as(frames), atol=1e-6)


def test_encoders_that_do_not_correspond_are_refused():
    wider = "model.encoders.video.options.config={intermediate_size: 128}"
    model = mmbind.build_model(mmbind.load_recipe(TINY, [wider]))
    message = r"test: the encoders' weights do not correspond: .*mlp\.fc1\.weight \(128, 32\) vs"
    with pytest.raises(RecipeError, match=message):
        init_encoder_from(model.encoders["video"], model.encoders["image"], "test")


def test_cls_pooling_needs_an_encoder_whose_token_layout_keeps_a_cls_token(data, tmp_path, monkeypatch):
    model = mmbind.build_model(recipe(data, UNITED))  # the tiny image tower drops CLS, the video one keeps it
    assert [model.encoders[m].token_layout(model.encoders[m].tokens_per_item()).prefix
            for m in ("image", "video")] == [0, 1]
    registry = default_registry()
    with pytest.raises(RecipeError, match=r"stages\.s\.options\.pool: cls needs an encoder that keeps"):
        build_align(model, AlignOptions(modality="image", pool="cls"), tmp_path, registry, "stages.s")
    loss, _ = build_align(model, AlignOptions(modality="video", pool="cls"), tmp_path, registry, "stages.s")
    assert loss.embed_media(torch.randn(2, 4, 3, 28, 28)).shape == (2, loss.text.projection.out_features)
    # the declared layout decides, not an option or attribute of the plugin
    monkeypatch.setattr(model.encoders["image"], "token_layout", lambda tokens: TokenLayout(1, 1, 2, 2))
    build_align(model, AlignOptions(modality="image", pool="cls"), tmp_path, registry, "stages.s")


def test_clip_loss_is_symmetric_infonce():
    media, text = torch.eye(4), torch.eye(4)
    loss, accuracy = clip_loss(media, text, torch.tensor(100.0))
    assert accuracy == 1.0 and loss.item() < 1e-6
    shuffled, _ = clip_loss(media, text[[1, 0, 3, 2]], torch.tensor(10.0))
    expected = torch.nn.functional.cross_entropy(10 * torch.eye(4)[:, [1, 0, 3, 2]], torch.arange(4))
    assert shuffled.item() == pytest.approx(4 * expected.item())  # summed over the pairs


def test_captions_end_with_eos_and_fit_the_position_table(data):
    tokenizer = mmbind.build_model(recipe(data, UNITED)).llm.tokenizer
    ids = caption_ids(tokenizer, "a red square on grey", 64)
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id and len(ids) == 7
    assert caption_ids(tokenizer, "a red square on grey", 4) == ids[:3] + [tokenizer.eos_token_id]


# ------------------------------------------------------------------------------------------ training
@pytest.mark.slow
def test_align_image_learns_a_shared_space(united, data):
    run, summary = united
    losses = loss_values(run, "align_image")
    assert len(losses) == 40 and sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5
    retrieval = summary["stages"]["align_image"]["retrieval"]
    assert retrieval["pairs"] == 16 and retrieval["media_to_text_top1"] >= 0.6 >= 4 * retrieval["chance"]
    # the saved encoder, text tower and pooling head reproduce that retrieval
    rec = recipe(data, UNITED)
    model = mmbind.load_pretrained(run / "stages" / "align_image")
    text, heads = load_text_tower(run / "stages" / "align_image" / "text_encoder")
    head = PoolingHead(32, 32)
    prefix = "visual_projection.image."
    head.load_state_dict({k[len(prefix):]: v for k, v in heads.items() if k.startswith(prefix)})
    options = rec.stages["align_image"].kind_options()
    objective = AlignLoss(model.encoders["image"], head, text, options)
    reader = run_readers(rec.data, ["image"])["image"]
    dataset = MediaCaptions(stage_sources(rec.data, "align_image", "captions", "image"), "image",
                            model.encoders["image"].media_transform(), reader, model.llm.tokenizer, 64)
    again = retrieval_accuracy(objective, dataset, PairCollator(0), 512, torch.device("cpu"))
    assert again == pytest.approx(retrieval)


@pytest.mark.slow
def test_align_image_changes_only_the_image_encoder(united, data):
    run, _ = united
    before = mmbind.build_model(recipe(data, UNITED)).state_dict()
    after = _weights(run / "stages" / "align_image")
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("encoders.image.") for k in changed)


@pytest.mark.slow
def test_align_video_keeps_the_text_encoder_frozen(united):
    run, summary = united
    first, second = (run / "stages" / s / "text_encoder" for s in ("align_image", "align_video"))
    a, b = load_file(str(first / "model.safetensors")), load_file(str(second / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ha, hb = load_file(str(first / "heads.safetensors")), load_file(str(second / "heads.safetensors"))
    assert torch.equal(ha["text_projection.weight"], hb["text_projection.weight"])
    assert torch.equal(ha["visual_projection.image.proj.weight"], hb["visual_projection.image.proj.weight"])
    assert "visual_projection.video.proj.weight" in hb
    # the video encoder trained, the image encoder kept its aligned weights
    w1, w2 = _weights(run / "stages" / "align_image"), _weights(run / "stages" / "align_video")
    changed = {k for k in w1 if not torch.equal(w1[k], w2[k])}
    assert changed and all(k.startswith("encoders.video.") for k in changed)
    losses = loss_values(run, "align_video")
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    retrieval = summary["stages"]["align_video"]["retrieval"]
    assert retrieval["media_to_text_top1"] >= 3 * retrieval["chance"]


@pytest.mark.slow
def test_video_stage_starts_from_the_aligned_image_encoder(united, data, tmp_path):
    run, _ = united
    # one step inside the warm-up runs at lr x 0: the saved weights are the initial ones
    stages = {"align_video": {**UNITED["align_video"], "warmup_ratio": 1.0, "max_steps": 1}}
    second = tmp_path / "run"
    (second / "stages").mkdir(parents=True)
    (second / "stages" / "align_image").symlink_to(run / "stages" / "align_image")  # finished: skipped
    rec = recipe(data, {"align_image": UNITED["align_image"], **stages})
    stored = yaml.safe_dump(rec.model_dump(mode="json"), sort_keys=False)
    (second / "recipe.yaml").write_text(stored, encoding="utf-8")
    train(rec, second, resume=True, progress=False)
    image = _weights(run / "stages" / "align_image")
    video = _weights(second / "stages" / "align_video")
    for name, tensor in video.items():
        if name.startswith("encoders.video.tower.") and not name.endswith("temporal_embedding"):
            spatial = (name.replace("encoders.video.", "encoders.image.")
                       .replace("temporal_attn.", "self_attn."))
            assert torch.equal(tensor, image[spatial.replace("temporal_layer_norm1.", "layer_norm1.")]), name
    heads = load_file(str(second / "stages" / "align_video" / "text_encoder" / "heads.safetensors"))
    assert torch.equal(heads["visual_projection.video.proj.weight"],
                       heads["visual_projection.image.proj.weight"])


@pytest.mark.slow
def test_align_is_deterministic_and_resume_continues_an_interrupted_stage(united, data, tmp_path):
    run, _ = united
    rec = recipe(data, UNITED)

    def stop(info: StepInfo) -> None:
        if info.stage == "align_video" and info.step == 3:
            Interrupt.requested = True

    second = tmp_path / "run"
    summary = train(rec, second, callbacks=[stop], progress=False)
    # the request is read with the next step's collectives (every rank agrees), so the stop comes after step 4
    assert summary["status"] == "interrupted" and summary["stages"]["align_video"]["steps"] == 4
    assert summary["checkpoint"] and read_state(Path(summary["checkpoint"]))["step"] == 4  # resumed from here
    assert not (second / "stages" / "align_video").exists()
    stamp = (second / "stages" / "align_image" / "model.safetensors").stat().st_mtime_ns
    assert recipe_from_dict(read_run_recipe(second)) == rec  # what `mmbind train --resume` reads back
    resumed = train(rec, second, resume=True, progress=False)
    assert list(resumed["stages"]) == ["align_video"] and resumed["stages"]["align_video"]["steps"] == 30
    assert (second / "stages" / "align_image" / "model.safetensors").stat().st_mtime_ns == stamp
    for stage in ("align_image", "align_video"):  # identical to the uninterrupted run, bit for bit
        a, b = _weights(run / "stages" / stage), _weights(second / "stages" / stage)
        assert all(torch.equal(a[k], b[k]) for k in a), stage
    steps = [(r["stage"], r["step"]) for r in MetricsLog(second).records()]
    assert steps == [("align_image", s) for s in range(1, 41)] + [("align_video", s) for s in range(1, 31)]


@pytest.mark.slow
def test_a_standalone_encoder_seeds_another_modality(data, tmp_path):
    lb = {"plugin": "languagebind_image", "options": {"preset": "tiny", "select_layer": -2}}
    stages = {
        "align_lb": {**ALIGN, "max_steps": 3, "options": {"modality": "image", "encoder": lb}},
        "align_video": {**ALIGN, "warmup_ratio": 1.0, "max_steps": 1, "options": {  # trains at lr x 0
            "modality": "video", "init_from_encoder": "align_lb",
            "text_encoder": {"train": False, "init_from": "align_lb"}}},
    }
    rec = recipe(data, stages)
    before = mmbind.build_model(rec).state_dict()
    train(rec, tmp_path / "run", progress=False)
    out = tmp_path / "run" / "stages"
    assert (out / "align_lb" / "encoder" / "spec.json").is_file()
    after = _weights(out / "align_lb")
    assert all(torch.equal(before[k], after[k]) for k in before)  # the model's own encoders are untouched
    donor = _weights(out / "align_lb" / "encoder")
    video = _weights(out / "align_video")
    assert torch.equal(video["encoders.video.tower.encoder.layers.0.temporal_attn.k_proj.weight"],
                       donor["tower.encoder.layers.0.self_attn.k_proj.weight"])
    assert torch.equal(video["encoders.video.tower.embeddings.patch_embedding.weight"],
                       donor["tower.embeddings.patch_embedding.weight"])
    donor_heads = load_file(str(out / "align_lb" / "text_encoder" / "heads.safetensors"))
    video_heads = load_file(str(out / "align_video" / "text_encoder" / "heads.safetensors"))
    for name in ("norm.weight", "norm.bias", "proj.weight"):  # the pooling head starts as the donor's
        video_head = video_heads[f"visual_projection.video.{name}"]
        assert torch.equal(video_head, donor_heads[f"visual_projection.image.{name}"])


# ------------------------------------------------------------------------------------------- the study
STUDY = ROOT / "mmbind" / "recipes" / "tiny"


def test_study_recipes_differ_only_in_the_image_side():
    united, clip, mae = (mmbind.load_recipe(STUDY / f"{n}.yaml")
                         for n in ("study", "study_separated_clip", "study_separated_mae"))
    assert list(united.stages) == ["align_image", "align_video", "pretrain", "finetune"]
    assert list(clip.stages) == ["align_image", "align_lb_image", "align_video", "pretrain", "finetune"]
    assert list(mae.stages) == ["mae_image", "align_lb_image", "align_video", "pretrain", "finetune"]
    assert (united.model.encoders["image"].plugin, clip.model.encoders["image"].plugin,
            mae.model.encoders["image"].plugin) == ("languagebind_image", "clip", "mae")
    assert clip.stages["align_image"] == united.stages["align_image"]  # its own text encoder, same schedule
    video = united.stages["align_video"].model_dump()
    video["options"].update(init_from_encoder="align_lb_image")
    video["options"]["text_encoder"]["init_from"] = "align_lb_image"
    for other in (clip, mae):
        assert other.data == united.data
        assert other.model.llm == united.model.llm and other.model.projector == united.model.projector
        assert other.model.encoders["video"] == united.model.encoders["video"]
        for lm in ("pretrain", "finetune"):
            assert other.stages[lm] == united.stages[lm]
        donor = other.stages["align_lb_image"].model_dump()
        standalone, donor["options"]["encoder"] = donor["options"]["encoder"], None
        # the united image encoder, stand-alone
        assert standalone == united.model.encoders["image"].model_dump()
        assert donor == united.stages["align_image"].model_dump()
        assert other.stages["align_video"].model_dump() == video
    image_pretraining = mae.stages["mae_image"].model_dump(exclude={"kind", "options"})
    assert image_pretraining == united.stages["align_image"].model_dump(exclude={"kind", "options"})


def _micro_overrides(recipe: mmbind.Recipe, data: Path, cache: Path) -> list[str]:
    """Point a study recipe at a micro dataset, with a few small steps per stage."""
    out = [f"model.llm.options.tokenizer={data / 'tokenizer'}", f"data.feature_cache.dir={cache}",
           f"data.datasets.pretrain.files=[{{path: {data / 'pretrain.json'}}}]",
           f"data.datasets.finetune.files=[{{path: {data / 'finetune.json'}}}]",
           "numerics.reproducible=false"]  # the study's mode pins a process of its own (tests/numerics)
    for name, stage in (recipe.stages or {}).items():
        out += [f"stages.{name}.global_batch=8", f"stages.{name}.max_steps={3 if stage.kind != 'lm' else 2}"]
        if stage.kind == "lm":
            out.append(f"stages.{name}.per_device_batch=8")
    return out


@pytest.mark.parametrize("name", ["study", "study_separated_clip", "study_separated_mae"])
@pytest.mark.slow
def test_study_recipes_train_end_to_end(name, micro, tmp_path_factory):
    path = STUDY / f"{name}.yaml"
    rec = mmbind.load_recipe(path,
                             _micro_overrides(mmbind.load_recipe(path), micro, tmp_path_factory.mktemp("c")))
    run = tmp_path_factory.mktemp(name) / "run"
    summary = train(rec, run, progress=False)
    assert summary["status"] == "done" and list(summary["stages"]) == list(rec.stages)
    assert all(s["steps"] == (3 if rec.stages[n].kind != "lm" else 2) for n, s in summary["stages"].items())
    model = mmbind.load_pretrained(run / "stages" / "finetune")
    assert set(model.encoders) == {"image", "video"}


def test_an_align_stage_refuses_videos_sampled_by_rate(data, tmp_path):
    stages = {"align_video": {**ALIGN, "max_steps": 2, "options": {"modality": "video"}}}
    rated = recipe(data, stages)
    rated = rated.model_copy(update={"data": rated.data.model_copy(
        update={"media": {"video": {"fps": 2.0, "max_frames": 8}}})})
    with pytest.raises(RecipeError, match=r"stages.align_video: kind align encodes video items in fixed-size "
                                          r"batches, but data.media.video samples by rate"):
        train(rated, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "stages" / "align_video").exists()
