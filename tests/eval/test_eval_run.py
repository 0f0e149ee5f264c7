"""`mmbind eval` end to end on a fake run (a tiny random model as its finetune stage) and the micro dataset:
results files and JSON summary, batched generation equal to one-by-one, the runner's bookkeeping (with a
generator that answers from the ground truth), and one clear error per bad input."""

from __future__ import annotations

import json
import shutil

import pytest

import mmbind
from mmbind.errors import CheckpointError, DataError, InputError
from mmbind.eval import (
    EvalSettings,
    load_set,
    open_metrics,
    pope_metrics,
    run_set,
    usable_sets,
)
from mmbind.eval.sets import find_data_dir
from mmbind.inference import Query, Target, resolve_target
from tests.support.helpers import cli

SETS = ["image_open", "image_pope", "video_open", "video_pope"]
ALL_SETS = [*SETS, "depth_open"]  # depth_open: questions about an image and its depth map




def test_target_resolution(run, micro):
    target = resolve_target(run)
    assert ((target.model_dir, target.stage, target.results_dir)
            == (run / "stages" / "finetune", "finetune", run / "eval"))
    assert find_data_dir(target) == micro  # from the recipe's data files
    inner = resolve_target(run / "stages" / "finetune")  # a stage's checkpoint still knows its run
    assert (inner.run_dir, inner.stage, find_data_dir(inner)) == (run, "finetune", micro)
    earlier = Target(run / "stages" / "pretrain", run, "pretrain", target.recipe)
    assert earlier.results_dir == run / "eval" / "pretrain"  # never overwrites the final model's results


def test_eval_cli_writes_every_set(run, micro, capsys):
    code, out, _ = cli(capsys, "eval", run, "--json", "--max-new-tokens", "4")
    assert code == 0
    summary = json.loads(out)
    assert (summary["stage"], summary["model"]) == ("finetune", str(run / "stages" / "finetune"))
    assert list(summary["sets"]) == SETS and summary["skipped"] == ["depth_open"]  # no depth encoder
    for name in SETS:
        saved = json.loads((run / "eval" / f"{name}.json").read_text())
        expected = len(load_set(micro, name).items)
        assert saved["samples"] == summary["sets"][name]["samples"] == len(saved["predictions"]) == expected
        assert (saved["template"], saved["frames"], saved["data"]) == ("vicuna_v1", 4, str(micro))
        rows = saved["predictions"]
        if saved["kind"] == "open":
            recomputed = open_metrics({"type": r["group"], **r} for r in rows)
        else:
            recomputed = pope_metrics({"split": r["group"], **r} for r in rows)
            assert saved["unique_prompts"] < len(rows)  # positives are shared by the three splits ...
            first = {}
            for r in rows:  # ... and answered once
                assert (first.setdefault((r["id"].split("-")[2], r["question"]), r["prediction"])
                        == r["prediction"])
        assert saved["metrics"] == summary["sets"][name]["metrics"] == recomputed


def test_eval_table_output(run, capsys):
    code, out, _ = cli(capsys, "eval", run, "--set", "video_pope", "--set", "image_open", "--limit", "6")
    text = " ".join(out.split())
    assert code == 0
    assert "image_open: open questions (6)" in text and "video_pope: POPE (6 probes)" in text
    assert "adversarial" not in text  # the first 6 probes are all from the random split
    assert "random" in text and "colour" in text and "overall" in text


def test_batched_generation_equals_one_by_one(generator, micro):
    items = load_set(micro, "video_open").items[:6] + load_set(micro, "image_open").items[:3]
    queries = [Query(i.question, i.modality, i.media) for i in items]
    batch = generator.inputs(queries)
    assert (batch["attention_mask"][:, 0] == 0).any()  # prompts differ in length: left padding is in play
    assert set(batch["media"]) == {"image", "video"} and tuple(batch["media"]["video"].shape[1:3]) == (4, 3)
    together = generator.answer(queries, max_new_tokens=5, batch_size=9)
    alone = [generator.answer([q], max_new_tokens=5, batch_size=1)[0] for q in queries]
    assert together == alone and all(together)


class Oracle:
    """Answers every question with its ground truth (and counts what it was asked)."""

    transforms = {"image": None, "video": None}  # the modalities it takes (a Generator's encoders)

    def __init__(self, items, wrong: str | None = None) -> None:
        self.truth = {(i.media, i.question): i.answer for i in items}
        self.wrong = wrong
        self.asked = 0

    def answer(self, queries, max_new_tokens, batch_size, on_batch=None):
        self.asked += len(queries)
        return [self.wrong or self.truth[(q.media, q.question)] for q in queries]


def test_runner_scores_perfect_and_constant_answers(micro):
    for name in ("video_open", "image_pope"):
        eval_set = load_set(micro, name)
        oracle = Oracle(eval_set.items)
        result = run_set(oracle, eval_set, EvalSettings())  # type: ignore[arg-type]
        assert (oracle.asked == result["unique_prompts"]
                == len({(i.media, i.question) for i in eval_set.items}))
        if eval_set.kind == "open":
            assert result["metrics"]["overall"] == {"accuracy": 1.0, "correct": 24, "n": 24}
            assert list(result["metrics"]["by_type"]) == ["colour", "shape", "count", "motion"]
        else:
            for split in ("random", "popular", "adversarial"):
                scores = result["metrics"][split]
                assert (scores["accuracy"], scores["f1"], scores["yes_ratio"]) == (1.0, 1.0, 0.5)
            always_yes = run_set(Oracle(eval_set.items, "Yes."), eval_set, EvalSettings())  # type: ignore[arg-type]
            scores = always_yes["metrics"]["adversarial"]
            assert ((scores["accuracy"], scores["precision"], scores["recall"], scores["yes_ratio"])
                    == (0.5, 0.5, 1.0, 1.0))


def test_lone_checkpoint_needs_data(run, micro, tmp_path, capsys):
    checkpoint = tmp_path / "ckpt"
    shutil.copytree(run / "stages" / "finetune", checkpoint)
    code, _, err = cli(capsys, "eval", checkpoint)
    assert code == 1
    assert (f"{checkpoint}: no evaluation data found (it belongs to no run and no generated dataset); "
            "pass --data DIR") in err
    code, _, _ = cli(capsys, "eval", checkpoint, "--data", micro, "--set", "image_open", "--limit", "5")
    assert code == 0
    saved = json.loads((checkpoint / "eval" / "image_open.json").read_text())
    assert (saved["samples"], saved["run"], saved["stage"], saved["frames"]) == (5, None, None, 4)


def test_unknown_set_and_run_are_one_message_each(run, micro, tmp_path, capsys):
    code, _, err = cli(capsys, "eval", run, "--set", "image_opne")
    assert code == 1
    assert err == f"error: unknown eval set 'image_opne' in {micro} (known: {', '.join(ALL_SETS)})"
    code, _, err = cli(capsys, "eval", tmp_path / "nothing")
    assert code == 1 and err == f"error: {tmp_path / 'nothing'}: no such run or checkpoint directory"
    code, _, err = cli(capsys, "eval", tmp_path)
    assert code == 1 and ("not an mmbind run (recipe.yaml is missing) "
                          "or checkpoint (mmbind_config.json is missing)") in err
    with pytest.raises(CheckpointError, match="stage 'pretrain' has not finished"):
        resolve_target(run, "pretrain")
    with pytest.raises(CheckpointError,
                       match=r"no stage 'polish' in the run's recipe \(stages: pretrain, finetune\)"):
        resolve_target(run, "polish")
    with pytest.raises(DataError, match="not a generated dataset"):
        find_data_dir(resolve_target(run), tmp_path)


def test_sets_without_an_encoder_are_skipped_unless_named(micro):
    sets = [load_set(micro, "image_open"), load_set(micro, "video_pope")]
    usable, skipped = usable_sets(sets, ["image"], explicit=False)
    assert [s.name for s in usable] == ["image_open"] and [s.name for s in skipped] == ["video_pope"]
    with pytest.raises(InputError,
                       match="eval set 'video_pope' needs a video encoder; this model has: image"):
        usable_sets(sets, ["image"], explicit=True)
    assert usable_sets(sets, ["image", "video"], explicit=True) == (sets, [])


def test_a_set_of_a_missing_modality_named_explicitly_uses_the_media_the_model_has(micro):
    """depth_open asks about an image and its depth map: an image-only model (the baseline) answers from the
    image; a model with both encoders gets both; a model with neither cannot take the set."""
    from mmbind.eval.predict import item_query

    depth = load_set(micro, "depth_open")
    item = depth.items[0]
    assert (depth.modality, item.modality, [m for m, _ in item.also]) == ("depth", "image", ["depth"])
    assert item.question.startswith("Which object is") and "<" not in item.question
    assert usable_sets([depth], ["image", "video"], explicit=False) == ([], [depth])
    assert usable_sets([depth], ["image", "video"], explicit=True) == ([depth], [])
    with pytest.raises(InputError, match="eval set 'depth_open' needs a depth encoder; this model has: vid"):
        usable_sets([depth], ["video"], explicit=True)
    only_image = item_query(item, ["image", "video"])
    assert (only_image.modality, only_image.media, only_image.also) == ("image", item.media, ())
    both = item_query(item, ["image", "depth"])
    assert both.modalities() == ["image", "depth"] and both.also == item.also


def test_progress_totals_count_what_run_set_generates(run, micro):
    from mmbind.eval.predict import prompt_count

    job = mmbind.eval.prepare_eval(run, ["image_pope"], EvalSettings(limit=0))
    pope = job.sets[0]
    assert job.prompt_counts() == {"image_pope": prompt_count(pope, None)}  # limit 0: every question
    assert prompt_count(pope, None) == len({(i.media, i.question) for i in pope.items})
    assert prompt_count(pope, 3) == len({(i.media, i.question) for i in pope.items[:3]})
    result = job.run()["image_pope"]
    assert result["unique_prompts"] == prompt_count(pope, None) and result["samples"] == len(pope.items)


def test_eval_by_rate_records_its_sampling_and_tokens(run, micro, capsys):
    model = mmbind.load_pretrained(run / "stages" / "finetune")
    code, out, err = cli(capsys, "eval", run, "--set", "video_open", "--json", "--max-new-tokens", "2",
                         "--fps", "2", "--max-frames", "3", "--limit", "4")
    assert code == 0, err
    saved = json.loads((run / "eval" / "video_open.json").read_text())
    assert saved["frames"] == {"fps": 2.0, "min_frames": 1, "max_frames": 3}
    expected = {"image": model.item_tokens("image"), "video": model.item_tokens("video", 3)}
    assert saved["visual_tokens"] == expected  # by rate: the most a video can become
    code, _, _ = cli(capsys, "eval", run, "--set", "video_open", "--json", "--max-new-tokens", "2",
                     "--limit", "4")
    assert code == 0
    saved = json.loads((run / "eval" / "video_open.json").read_text())
    assert saved["frames"] == 4 and saved["visual_tokens"]["video"] == model.item_tokens("video", 4)
