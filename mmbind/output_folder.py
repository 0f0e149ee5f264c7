"""output_folder.py

The one rule for what a command may write over, the same for every command that writes a folder or file:

- a missing folder, or one that holds no files, is written;
- a folder holding the command's own earlier output is continued or reused without a flag, so resumable
  outputs keep resuming (a command whose own output is not continued, such as a finished dataset, refuses
  it with its own message). A folder is recognised by what was written there: one `FolderKind` per kind of
  output, with the marker files that kind always holds (a run its ``recipe.yaml`` / ``recipe.lock.json``, a
  synthetic dataset its ``manifest.json``, a sweep its runs' files and results, a demo folder its
  ``demo.json`` stamp or its ``data/`` + ``run/`` layout, a benchmark's results folder its predictions,
  shards their ``.progress.json``);
- anything else -- another kind of output (a trained run, a checkpoint, a dataset, a sweep) or a user's own
  files -- is refused with one `OutputFolderError` naming the folder, what it holds and ``--overwrite``.

With ``--overwrite`` the command starts over: the folder is replaced whole, never merged. A command that
writes its output in one go writes it into a sibling staging folder swapped in once complete
(`staged_folder`: a failure leaves the old folder as it was); a long, resumable one removes the old folder
first (`replace_folder`). Either way nothing outside the named folder is deleted (a symbolic link is
replaced, never followed), and a folder that holds the working directory or one of the command's inputs is
never replaced. A single output file follows the same rule (`FileRule`, recognised by its JSON-lines
content). Which kinds each command owns is declared below, one `OutputRule` per command.

Nothing here imports torch: the CLI applies the rule before any heavy import.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mmbind.errors import MmbindError, OutputFolderError

FLAG = "--overwrite"  # the flag, the same for every command
SHOWN = 3  # files named in a message
State = Literal["new", "own", "replace"]


@dataclass(frozen=True)
class FolderKind:
    """One kind of output folder, recognised by any of its marker files (glob patterns relative to the
    folder, ``/``-separated; ``*`` matches within one name)."""

    label: str  # "a training run"
    markers: tuple[str, ...]
    stamp: str | None = None  # a file the command writes only to mark the folder as its own

    def found(self, folder: Path) -> list[str]:
        """The marker files present in ``folder`` (relative paths, sorted)."""
        hits: set[str] = set()
        for pattern in self.markers:
            hits.update(p.relative_to(folder).as_posix() for p in folder.glob(pattern)
                        if p.is_file() or p.is_symlink())
        return sorted(hits)

    def write_stamp(self, folder: Path, command: str) -> None:
        """Mark ``folder`` as ``command``'s own (its ``stamp`` file)."""
        if self.stamp is not None:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / self.stamp).write_text(json.dumps({"written_by": command}) + "\n", encoding="utf-8")


_RUN_FILES = ("recipe.yaml", "recipe.lock.json", "summary.json")  # mmbind.train.run writes the lock first
RUN = FolderKind("a training run", _RUN_FILES)
SWEEP = FolderKind("an ablation sweep", ("results.md", "results.csv",
                                         *(f"*/seed*/{name}" for name in ("ablate.json", *_RUN_FILES))))
DEMO = FolderKind("a demo folder", ("demo.json", "data/manifest.json", *(f"run/{n}" for n in _RUN_FILES)),
                  stamp="demo.json")
DATASET = FolderKind("a synthetic dataset", ("manifest.json",))
BENCHMARK = FolderKind("benchmark results", ("generation.json", "predictions.jsonl"))
CHECKPOINT = FolderKind("an mmbind checkpoint", ("mmbind_config.json",))
SHARDS = FolderKind("shards of mmbind data shard", (".progress.json",))
MODEL = FolderKind("a model checkpoint", ("config.json", "*.safetensors", "*.safetensors.index.json",
                                          "*.bin", "*.pt", "*.pth", "*.ckpt", "*.gguf"))
KINDS = (DEMO, SWEEP, RUN, BENCHMARK, DATASET, SHARDS, CHECKPOINT, MODEL)  # the first that matches names it


def files_in(folder: Path) -> list[str]:
    """Every file (or link) under ``folder``, relative and sorted; empty sub-folders hold nothing."""
    found = []
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        links = [d for d in dirs if (base / d).is_symlink()]  # a linked folder is content, not followed
        found += [(base / name).relative_to(folder).as_posix() for name in [*files, *links]]
    return sorted(found)


def holds_files(folder: Path) -> bool:
    """Whether there is any file (or link) under ``folder``; stops at the first."""
    for root, dirs, files in os.walk(folder):
        if files or any((Path(root) / d).is_symlink() for d in dirs):
            return True
    return False


def kind_of(folder: Path) -> FolderKind | None:
    """The first of `KINDS` that ``folder`` holds."""
    return next((kind for kind in KINDS if kind.found(folder)), None)


def describe(folder: Path) -> str:
    """What ``folder`` holds, for a message: "a model checkpoint (config.json, model.safetensors)"."""
    kind = kind_of(folder)
    names = kind.found(folder) if kind else sorted(
        p.name + ("/" if p.is_dir() and not p.is_symlink() else "") for p in folder.iterdir())
    shown = ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
    return f"{kind.label if kind else 'other files'} ({shown})"


@dataclass(frozen=True)
class OutputRule:
    """What one command may write over: its own kinds of folder, continued unless ``again`` is set (then
    its own output is refused with that message, ``{folder}`` filled in)."""

    command: str  # "mmbind demo"
    own: tuple[FolderKind, ...] = ()
    again: str | None = None

    def claim(self, folder: Path, overwrite: bool, inputs: Iterable[Path] = ()) -> State:
        """``new`` (missing or empty), ``own`` (the command's own output, continued) or ``replace`` (anything
        else, with ``overwrite``: the caller replaces it whole); `OutputFolderError` otherwise. A folder to
        replace may not hold the working directory or one of ``inputs``."""
        if folder.exists() and not folder.is_dir():
            raise OutputFolderError(f"{folder}: exists and is not a folder")
        if not folder.is_dir() or not holds_files(folder):
            return "new"
        mine = next((kind for kind in self.own if kind.found(folder)), None)
        if mine is not None and self.again is None and not overwrite:
            return "own"
        if not overwrite:
            if mine is not None:
                raise OutputFolderError(self.refusal(folder))
            raise OutputFolderError(
                f"{folder}: directory is not empty, it holds {describe(folder)}; pass {FLAG} to replace it")
        check_replaceable(folder, inputs)
        return "replace"

    def refusal(self, folder: Path) -> str:
        """The message refusing the command's own earlier output in ``folder`` (``again``)."""
        return (self.again or f"{{folder}}: holds an earlier output; pass {FLAG} to replace it").format(
            folder=folder)


def check_replaceable(path: Path, inputs: Iterable[Path] = ()) -> None:
    """`OutputFolderError` when replacing ``path`` would delete the working directory or an input."""
    target = path.resolve()
    for what, other in (("the working directory", Path.cwd()), *(("the input", p) for p in inputs)):
        held = other.resolve()
        if held == target or target in held.parents:
            shown = "" if what == "the working directory" else f" {other}"
            raise OutputFolderError(f"{path}: holds {what}{shown}; not replacing it (choose another output)")


def replace_folder(folder: Path) -> None:
    """Remove ``folder`` so the command writes it afresh: moved into a sibling temporary folder first, then
    deleted (a link is removed, never followed)."""
    aside = _move_aside(folder)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def _move_aside(folder: Path) -> Path | None:
    """Move ``folder`` into a new sibling temporary folder; returns that folder (None: nothing there)."""
    if not folder.exists() and not folder.is_symlink():
        return None
    aside = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
    folder.rename(aside / "previous")
    return aside


@contextlib.contextmanager
def staged_folder(folder: Path, error: type[MmbindError] = OutputFolderError) -> Iterator[Path]:
    """Yield a fresh sibling folder to write into; on success it replaces ``folder`` whole (a failure
    removes it and leaves ``folder`` as it was). ``error``: what a folder that cannot be written raises."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    except OSError as exc:
        raise error(f"{folder}: cannot write here ({exc.strerror or exc})") from None
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    aside = _move_aside(folder)
    staging.rename(folder)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


@dataclass(frozen=True)
class JsonLinesKind:
    """A file of JSON lines, each an object holding ``keys`` (the first written first). Blank lines and
    torn ones -- the start of such an object, cut off by an interrupted run -- are ignored."""

    label: str
    keys: tuple[str, ...]

    def matches(self, path: Path) -> bool:
        """Whether ``path`` is such a file."""
        torn = json.dumps({self.keys[0]: ""})[:-3]  # '{"id": '
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    if line.startswith(torn):
                        continue
                    return False
                if not isinstance(row, dict) or not all(key in row for key in self.keys):
                    return False
        return True


@dataclass(frozen=True)
class FileRule:
    """The rule for a single output file: missing or empty, or the command's own kind (continued);
    anything else only with ``--overwrite``."""

    command: str
    own: JsonLinesKind

    def claim(self, path: Path, overwrite: bool, inputs: Iterable[Path] = ()) -> State:
        """``new``, ``own`` or ``replace`` as `OutputRule.claim`; the file may never be an input."""
        if path.is_dir():
            raise OutputFolderError(f"{path}: is a folder, not a file")
        for other in inputs:
            if path.resolve() == other.resolve() or _same_file(path, other):
                raise OutputFolderError(f"{path}: is the input {other}; choose another output")
        if not path.is_file() or path.stat().st_size == 0:
            return "new"
        if overwrite:
            return "replace"
        if self.own.matches(path):
            return "own"
        raise OutputFolderError(f"{path}: file is not empty and is not {self.own.label}; pass {FLAG} to "
                                "replace it")


def _same_file(path: Path, other: Path) -> bool:
    """Whether ``path`` and ``other`` both exist and are one file (a hard link, a bind mount...)."""
    try:
        return path.exists() and other.exists() and os.path.samefile(path, other)
    except OSError:
        return False


# Every command that writes, and what it may write over without --overwrite.
TRAIN = OutputRule("mmbind train", (RUN,), again="{folder}: a run already lives here; resume it with "
                   f"--resume {{folder}}, or pass {FLAG} to start it over")
DEMO_OUT = OutputRule("mmbind demo", (DEMO,))  # the study and --compose-only share the folder
SYNTH = OutputRule("mmbind data synth", (DATASET,),
                   again=f"{{folder}}: directory is not empty (pass {FLAG} to replace a generated dataset)")
SHARD = OutputRule("mmbind data shard", (SHARDS,))  # an interrupted run is continued, a finished one checked
CONVERT = OutputRule("mmbind convert / export")  # a conversion is never continued
ABLATE = OutputRule("mmbind ablate", (SWEEP,))
BENCH = OutputRule("mmbind eval --benchmark", (BENCHMARK,))
INFER = FileRule("mmbind infer", JsonLinesKind("an answers file of mmbind infer (JSON lines with id and "
                                               "answer)", ("id", "answer")))
