"""pope.py

POPE as LLaVA-1.5 (and so Video-LLaVA) evaluates it: the three negative-sampling files
``coco_pope_random.json``, ``coco_pope_popular.json``, ``coco_pope_adversarial.json`` (JSON lines of
``{"question_id", "image", "text", "label"}``, in the folder or its ``coco/`` / ``pope/`` sub-folder) and
the image folder (``val2014/``, ``images/`` or the folder itself; option ``images``). Each probe is asked
with LLaVA's suffix (``llava_pope_test.jsonl``'s wording: "Answer the question using a single word or
phrase.") and scored as ``eval_pope.py`` does: answers read with `pope_answer`, labels "no" -> no and
anything else -> yes, then accuracy, precision, recall, F1 and yes-ratio per split (`pope_metrics`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mmbind import BenchmarkEntry, hookimpl
from mmbind.errors import DataError
from mmbind.interfaces.benchmark import EvalItem, EvalSet
from mmbind.interfaces.benchmark_helpers import (
    bad_entry,
    entry_id,
    find_media,
    first_dir,
    options_path,
    read_entries,
    text_field,
)

SPLITS = ("random", "popular", "adversarial")
SUFFIX = "\nAnswer the question using a single word or phrase."
IMAGE_DIRS = ("val2014", "images", "coco/val2014")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")  # tried in this order (COCO's first)


def split_file(root: Path, split: str) -> Path | None:
    """The annotation file of ``split`` under ``root``."""
    for folder in (root, root / "coco", root / "pope", root / "output" / "coco"):
        for name in (f"coco_pope_{split}.json", f"coco_pope_{split}.jsonl", f"pope_{split}.json"):
            if (folder / name).is_file():
                return folder / name
    return None


def load_pope(data: Path, options: Mapping[str, str]) -> EvalSet:
    """Every split found in ``data`` (at least one)."""
    root = Path(data)
    if not root.is_dir():
        raise DataError(f"{root}: no such POPE folder")
    images = options_path(options, "images", root) or first_dir(root, IMAGE_DIRS)
    suffix = options.get("suffix", SUFFIX).replace("\\n", "\n")
    files = {split: split_file(root, split) for split in SPLITS}
    if not any(files.values()):
        raise DataError(f"{root}: no POPE split file (coco_pope_random.json, coco_pope_popular.json, "
                        "coco_pope_adversarial.json)")
    items: list[EvalItem] = []
    for split, path in files.items():
        if path is None:
            continue
        seen: set[str] = set()
        for index, entry in enumerate(read_entries(path)):
            if not isinstance(entry, dict):
                raise bad_entry(path, index, entry, "not a JSON object")
            image, text = text_field(entry, ("image",)), text_field(entry, ("text", "question"))
            label = text_field(entry, ("label", "answer"))
            if not image:
                raise bad_entry(path, index, entry, "no 'image'")
            if not text:
                raise bad_entry(path, index, entry, "no 'text'")
            if label is None or label.strip().lower() not in ("yes", "no"):
                raise bad_entry(path, index, entry, f"'label' must be yes or no, not {label!r}")
            ident = entry_id(entry) or str(index)
            if ident in seen:
                raise bad_entry(path, index, entry, "duplicate question_id")
            seen.add(ident)
            answer = "no" if label.strip().lower() == "no" else "yes"
            media = find_media(images, image, IMAGE_SUFFIXES)
            items.append(EvalItem(f"{split}/{ident}", "image", media, text.strip() + suffix, answer, split))
    return EvalSet("pope", "pope", "image", root, items)


@hookimpl
def mmbind_benchmarks() -> list[BenchmarkEntry]:
    return [BenchmarkEntry("pope", load_pope,
                           "POPE: the three negative-sampling splits, scored as eval_pope.py")]
