"""generate.py

`generate_dataset`: the whole synthetic benchmark in one directory.

    OUT/images/NNNNN.png|jpg                  training images (every third one JPEG)
    OUT/videos/NNNNN.mp4                      training videos (H.264)
    OUT/pretrain.json  OUT/finetune.json      stage-1 captions, stage-2 conversations (LLaVA format)
    OUT/preferences.json                      preference pairs: a correct answer and a hallucination
    OUT/preferences_chosen.json               the same prompts with their chosen answers, as conversations
    OUT/eval/images/  OUT/eval/videos/        held-out media
    OUT/eval/{image,video}_{open,pope}.json   held-out evaluation sets
    OUT/scenes.json                           every media file's split, attributes and signature
    OUT/depth/NNNNN.png  OUT/eval/depth/      16-bit depth maps (mm) of the training / held-out images
    OUT/pretrain_depth.json                   stage-1 depth-map captions (see depth_text.py)
    OUT/finetune_depth.json                   stage-2 conversations about an image and its depth map
    OUT/eval/depth_open.json                  held-out "which object is nearer / farther" questions
    OUT/depth.json                            every image's object distances (see depth.py)
    OUT/tokenizer/                            a tokenizer trained on the image + video text (see tokenizer.py)
    OUT/tokenizer_depth/                      the same with the depth text's words appended
    OUT/manifest.json                         settings, counts, sets and every file's SHA-256

Deterministic for a seed: each random stream is seeded by (seed, purpose) strings, dictionaries are
built in fixed order, and videos are encoded single-threaded. Train and eval are disjoint: every scene
signature (all attributes without render jitter) occurs once in the whole dataset, so no eval item shares
a file, or an attribute combination, with a training item. Media paths in every JSON file are relative to
that file's folder (the training pipeline's default media root).

Depth and preference pairs were added later without changing anything that existed (preference pairs: their
own streams ``preference:<id>`` and ``preferences-order``, their own file, not in the tokenizer's text).
Depth: its random streams are its own
(``depth:<id>``, ``depth-caption:<id>``, ``depth-instruct:<id>``, ``depth-open``, ``*-depth-order``), the
images are drawn as before, the depth samples live in files of their own (recipes without a depth encoder
read the others), and the tokenizer is saved as before; ``tokenizer_depth/`` is a copy with depth's new
words appended after every earlier id (recipes with a depth encoder use it).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import warnings
from pathlib import Path
from typing import Any

from mmbind.dataset_manifest import MANIFEST, read_manifest
from mmbind.errors import DataError, UsageError, WriteError
from mmbind.output_files import make_folder, writing
from mmbind.output_folder import DATASET, SYNTH, files_in, staged_folder
from mmbind.synth.depth import BACKGROUND_MM, DepthItem, depth_items, render_depth, write_depth
from mmbind.synth.depth_text import depth_caption_record, depth_instruction_record, depth_open_records
from mmbind.synth.draw import render_frame, render_video
from mmbind.synth.evalsets import CooccurrenceStats, open_records, pope_records
from mmbind.synth.items import GeneratedMedia
from mmbind.synth.manifest import write_manifest
from mmbind.synth.media_io import write_image, write_video
from mmbind.synth.preferences import chosen_conversation, preference_record
from mmbind.synth.sizes import SynthSize, get_size
from mmbind.synth.tokenizer import extend_tokenizer, train_tokenizer
from mmbind.synth.training import caption_record, instruction_record, text_only_record
from mmbind.synth.world import sample_image_scene, sample_unique, sample_video_scene


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"mmbind-synth:{seed}:{purpose}")


def _check_only_generated(out: Path, discard_edits: bool) -> None:
    """`DataError` unless every file in the dataset ``out`` is one its manifest lists (a user's file in a
    generated dataset is never replaced with it) and, unless ``discard_edits``, still holds what the
    generator wrote (its SHA-256 in the manifest): a file the user edited is never replaced silently."""
    try:
        entries = {entry["path"]: entry for entry in read_manifest(out)["files"]}
    except (KeyError, TypeError):
        raise DataError(f"{out / MANIFEST}: its file list is unreadable; not replacing the dataset") from None
    listed = set(entries) | {MANIFEST}
    present = files_in(out)
    foreign = [name for name in present if name not in listed]
    if foreign:
        raise DataError(f"{out}: holds files the generator did not write ({_shown(foreign)}); "
                        "not replacing it")
    if discard_edits:
        return
    edited = [name for name in present if name != MANIFEST and _edited(out / name, entries[name])]
    if edited:
        raise DataError(f"{out}: {len(edited)} generated file(s) were edited since (their SHA-256 differs "
                        f"from {MANIFEST}): {_shown(edited)}; not replacing them (pass --discard-edits to "
                        "replace them too)")


def _edited(path: Path, entry: Any) -> bool:
    """Whether the file at ``path`` no longer holds what its manifest ``entry`` says (size, then SHA-256)."""
    if not isinstance(entry, dict) or path.is_symlink() or not path.is_file():
        return True
    if isinstance(entry.get("bytes"), int) and path.stat().st_size != entry["bytes"]:
        return True
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() != entry.get("sha256")


def _shown(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _items(seed: int, size: SynthSize) -> dict[str, list[GeneratedMedia]]:
    """Scenes of both modalities and splits, distinct signatures throughout (eval drawn first)."""
    out: dict[str, list[GeneratedMedia]] = {}
    for modality, sampler, counts, suffix in (
        ("image", sample_image_scene, (("eval", size.eval_images), ("train", size.train_images)),
         lambda i: "jpg" if i % 3 == 2 else "png"),
        ("video", sample_video_scene, (("eval", size.eval_videos), ("train", size.train_videos)),
         lambda i: "mp4"),
    ):
        rng, seen = _rng(seed, f"{modality}-scenes"), set()
        for split, count in counts:
            scenes = sample_unique(sampler, rng, count, seen)
            items = []
            for i, scene in enumerate(scenes):
                path = f"{modality}s/{i:05d}.{suffix(i)}"
                items.append(GeneratedMedia(f"{split}-{modality}-{i:05d}", split, path, scene))
            out[f"{split}_{modality}"] = items
    return out


def _render(out: Path, items: list[GeneratedMedia], size: SynthSize) -> None:
    for item in items:
        if item.modality == "image":
            write_image(render_frame(item.scene, size.media_size), out / item.dataset_path)
        else:
            write_video(render_video(item.scene, size.media_size, size.frames), out / item.dataset_path)


def _depth(
    out: Path, seed: int, items: dict[str, list[GeneratedMedia]], size: SynthSize
) -> tuple[list[DepthItem], dict[str, list[dict[str, Any]]]]:
    """Depth maps of every image (written), and the depth records: ``pretrain_depth``,
    ``finetune_depth`` (scenes with two or more objects) and the ``depth_open`` eval set."""
    def stream(purpose: str) -> random.Random:
        return _rng(seed, purpose)

    train, held_out = depth_items(items["train_image"], stream), depth_items(items["eval_image"], stream)
    for item in held_out + train:
        write_depth(render_depth(item.scene, item.distances, size.media_size), out / item.dataset_path)
    pretrain = [depth_caption_record(i, _rng(seed, f"depth-caption:{i.id}")) for i in train]
    finetune = [depth_instruction_record(i, _rng(seed, f"depth-instruct:{i.id}"))
                for i in train if len(i.scene.things) >= 2]
    _rng(seed, "pretrain-depth-order").shuffle(pretrain)
    _rng(seed, "finetune-depth-order").shuffle(finetune)
    records = {"pretrain_depth": pretrain, "finetune_depth": finetune,
               "depth_open": depth_open_records(held_out, _rng(seed, "depth-open"))}
    return held_out + train, records


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


WORLDS = ("default", "long")  # what ``world`` may name


def generate_dataset(
    out: str | Path, seed: int = 0, size: str = "default", overwrite: bool = False, world: str = "default",
    *, force: bool | None = None, discard_edits: bool = False,
) -> dict[str, Any]:
    """Generate the dataset into ``out``; returns the manifest. ``world="long"``: the long-video dataset
    instead (`mmbind.synth.long_dataset`). ``out`` must be new or empty (`mmbind.output_folder.SYNTH`); with
    ``overwrite`` anything there is replaced whole once the new dataset is complete, except a generated
    dataset holding files it did not list, or files edited since it wrote them (their SHA-256 differs from
    the manifest's; replaced only with ``discard_edits``): a `DataError` naming them. ``force``: the
    deprecated name of ``overwrite``."""
    if force is not None:
        warnings.warn("generate_dataset(force=...) is deprecated; use overwrite=...", DeprecationWarning,
                      stacklevel=2)
        overwrite = overwrite or force
    if world not in WORLDS:
        raise UsageError(f"unknown synthetic world {world!r} (choose from: {', '.join(WORLDS)})")
    if world == "long":
        from mmbind.synth.long_dataset import check_size

        check_size(size)
    else:
        get_size(size)
    out = Path(out)
    if SYNTH.claim(out, overwrite) == "new":
        existed = out.is_dir()
        make_folder(out, "the dataset folder")
        try:
            with writing(out, "the dataset"):
                return _generate(out, seed, size, world)
        except BaseException:  # a full disk, an interrupt: leave the folder as it was (missing or empty)
            _empty(out, remove=not existed)
            raise
    if DATASET.found(out):
        _check_only_generated(out, discard_edits)
    with staged_folder(out, WriteError) as staging, writing(out, "the dataset"):
        return _generate(staging, seed, size, world)


def _empty(folder: Path, remove: bool) -> None:
    """Delete what ``folder`` holds (and ``folder`` itself when ``remove``); links are not followed."""
    if remove:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _generate(out: Path, seed: int, size: str, world: str) -> dict[str, Any]:
    """Write the dataset of ``world`` into the empty folder ``out``."""
    if world == "long":
        from mmbind.synth.long_dataset import generate_long_dataset

        return generate_long_dataset(out, seed, size)
    preset = get_size(size)
    items = _items(seed, preset)
    train = items["train_image"] + items["train_video"]
    _render(out, train + items["eval_image"] + items["eval_video"], preset)

    pretrain = [caption_record(item, _rng(seed, f"caption:{item.id}")) for item in train]
    finetune = [instruction_record(item, _rng(seed, f"instruct:{item.id}")) for item in train]
    finetune += [text_only_record(i, _rng(seed, f"text:{i}")) for i in range(preset.text_only)]
    _rng(seed, "pretrain-order").shuffle(pretrain)
    _rng(seed, "finetune-order").shuffle(finetune)
    preferences = [preference_record(item, _rng(seed, f"preference:{item.id}")) for item in train]
    _rng(seed, "preferences-order").shuffle(preferences)
    sets: dict[str, list[dict[str, Any]]] = {}
    for modality in ("image", "video"):
        held_out = items[f"eval_{modality}"]
        stats = CooccurrenceStats([i.scene for i in items[f"train_{modality}"]])
        sets[f"{modality}_open"] = open_records(held_out, _rng(seed, f"{modality}-open"))
        sets[f"{modality}_pope"] = pope_records(held_out, stats, _rng(seed, f"{modality}-pope"))
    depth, depth_records = _depth(out, seed, items, preset)
    sets["depth_open"] = depth_records.pop("depth_open")

    _write_json(out / "pretrain.json", pretrain)
    _write_json(out / "finetune.json", finetune)
    _write_json(out / "preferences.json", preferences)
    _write_json(out / "preferences_chosen.json", [chosen_conversation(p) for p in preferences])
    for name, samples in depth_records.items():
        _write_json(out / f"{name}.json", samples)
    for name, samples in sets.items():
        _write_json(out / "eval" / f"{name}.json", samples)
    scenes = [
        {"id": i.id, "split": i.split, "path": i.dataset_path, "signature": i.scene.signature(),
         **i.scene.to_json()}
        for group in items.values() for i in group
    ]
    _write_json(out / "scenes.json", scenes)
    _write_json(out / "depth.json", [item.to_json() for item in depth])
    earlier = [pretrain, finetune, *(samples for name, samples in sets.items() if name != "depth_open")]
    tokenizer = train_tokenizer(earlier, out / "tokenizer")
    tokenizer_depth = extend_tokenizer(out / "tokenizer", out / "tokenizer_depth",
                                       [*depth_records.values(), sets["depth_open"]])

    counts = {key: len(group) for key, group in items.items()}
    counts.update(pretrain=len(pretrain), finetune=len(finetune), text_only=preset.text_only,
                  preferences=len(preferences), preferences_chosen=len(preferences))
    counts.update(train_depth=len(items["train_image"]), eval_depth=len(items["eval_image"]),
                  **{name: len(samples) for name, samples in depth_records.items()})
    eval_sets = {
        name: {"file": f"eval/{name}.json", "kind": name.split("_")[1], "modality": name.split("_")[0],
               "samples": len(samples)}
        for name, samples in sets.items()
    }
    return write_manifest(out, {
        "seed": seed, "size": preset.to_json(), "counts": counts,
        "train": {"pretrain": "pretrain.json", "finetune": "finetune.json",
                  "pretrain_depth": "pretrain_depth.json", "finetune_depth": "finetune_depth.json",
                  "preferences": "preferences.json", "preferences_chosen": "preferences_chosen.json"},
        "eval_sets": eval_sets, "scenes": "scenes.json", "tokenizer": tokenizer,
        "tokenizer_depth": tokenizer_depth,
        "depth": {"file": "depth.json", "unit": "mm", "background_mm": BACKGROUND_MM},
    })
