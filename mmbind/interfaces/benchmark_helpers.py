"""benchmark_helpers.py

Helpers for benchmark plugins (hook ``mmbind_benchmarks``) reading a user's local files: a JSON or
JSON-lines file read into a list of entries (one `DataError` naming the file and line when it cannot be
parsed), the typed "bad entry" error naming the file and the first bad entry, an entry's id and text
fields, finding a media file by name in a folder (with or without a suffix), and options naming paths.
Public: plugins import them from ``mmbind.interfaces.benchmark_helpers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mmbind.errors import DataError
from mmbind.json_file import NotJson, NotJsonLine, parse_json, parse_json_lines, read_json


def read_entries(path: Path) -> list[Any]:
    """A JSON array file, or a JSON-lines file (one value per non-empty line)."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8", errors="replace").lstrip()
    if text.startswith("["):
        entries = read_json(path, DataError)
        if not isinstance(entries, list):
            raise DataError(f"{path}: expected a JSON array of entries")
        return entries
    if text.startswith("{") and path.suffix != ".jsonl":
        try:
            value = parse_json(text)
        except NotJson as exc:
            if exc.line == 0:  # parsed, but breaks a limit
                raise DataError(f"{path}: not valid JSON ({exc.detail()})") from None
            value = None  # JSON lines
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            return [{"id": key, **v} for key, v in value.items()]  # {id: entry}, as some exports have
        if isinstance(value, dict):
            return [value]
    try:
        return parse_json_lines(text)
    except NotJsonLine as exc:
        raise DataError(f"{path}: line {exc.number}: not valid JSON ({exc.what})") from None


def bad_entry(path: Path, index: int, entry: Any, why: str) -> DataError:
    """``<file>: entry <i> (id X): <why>``."""
    ident = entry_id(entry)
    label = f"entry {index}" + (f" (id {ident})" if ident is not None else "")
    return DataError(f"{path}: {label}: {why}")


def entry_id(entry: Any, keys: Iterable[str] = ("question_id", "id")) -> str | None:
    """The entry's id as a string, or None."""
    if isinstance(entry, Mapping):
        for key in keys:
            value = entry.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
                return str(value)
    return None


def text_field(entry: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    """The first of ``keys`` holding a string or number, as a string."""
    for key in keys:
        value = entry.get(key)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    return None


def find_media(folder: Path, name: str, suffixes: tuple[str, ...], prefixes: tuple[str, ...] = ("",)) -> Path:
    """``folder/name`` if it exists, else ``folder/<prefix><name><suffix>`` for the first that exists; the
    plain path when none does (it is then reported as missing media, never a crash)."""
    plain = folder / name
    if plain.is_file():
        return plain
    for prefix in prefixes:
        for suffix in suffixes:
            candidate = folder / f"{prefix}{name}{suffix}"
            if candidate.is_file():
                return candidate
    return plain


def first_dir(root: Path, names: Iterable[str]) -> Path:
    """The first of ``root/<name>`` that is a folder, else ``root``."""
    for name in names:
        if (root / name).is_dir():
            return root / name
    return root


def options_path(options: Mapping[str, str], key: str, base: Path) -> Path | None:
    """An option naming a path, relative to ``base``."""
    value = options.get(key)
    if not value:
        return None
    path = Path(value)
    return path if path.is_absolute() else base / path
