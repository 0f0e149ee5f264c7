"""Every ``mmbind ...`` command the documentation shows is one the CLI accepts: each command line of
README.md and docs/**/*.md (shell code blocks, and inline code starting with ``mmbind ``) is parsed with
mmbind's own argument parser, every recipe it names resolves (a file or a bundled recipe), and every
repository path it names exists.

Placeholders: a line with an elided argument (``...`` as a whole word) is skipped; upper-case names (RUN,
RUN_DIR, CHECKPOINT), ``<...>`` and shell variables (``"$KEY"``) are ordinary strings to the parser, so
they parse wherever a string does (where the parser refuses one as the value of a typed option,
``--port $PORT``, ``--frames N``, the line is accepted: its value is unknown), and are never looked up as
recipes or paths; ``KEY=VALUE`` overrides are positional arguments, as the parser takes them. Inline code
that only names a command (``mmbind eval``, ``mmbind data synth``) is checked for the command, not for its
required arguments.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from mmbind.cli.main import build_parser
from mmbind.recipe.paths import bundled_recipes_dir

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL_FENCES = {"bash", "sh", "shell", "console", "zsh"}
REPO_PREFIXES = ("mmbind/", "plugins/", "examples/", "ablations/", "benchmarks/", "docs/", "tests/")
RECIPE_DESTS = ("recipe", "sweep")  # parsed arguments naming a recipe (train, recipe show, demo, ablate)
SHELL_OPERATORS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>&1", "&>"}
ELISIONS = {"...", "…"}
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
INLINE = re.compile(r"(?<!`)`(?!`)([^`]+)`(?!`)")
ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Command:
    file: str
    line: int
    text: str
    inline: bool

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def _blank_fences_and_collect(text: str) -> tuple[str, list[tuple[int, str]]]:
    """(the text with every fenced block's lines emptied, the logical shell lines of bash/console blocks as
    (first line number, line)). Backslash continuations are joined; in console blocks only ``$ `` lines
    are commands."""
    out_lines, shell = [], []
    fence, lang, pending, pending_at = None, "", "", 0
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence, lang = match.group(1), match.group(2).lower()
                out_lines.append("")
            else:
                out_lines.append(line)
            continue
        out_lines.append("")
        if line.strip().startswith(fence[0] * len(fence)) and line.strip().strip(fence[0]) == "":
            fence = None
            continue
        if lang not in SHELL_FENCES:
            continue
        body = line
        if lang == "console" and not pending:
            if not body.lstrip().startswith("$ "):
                continue
            body = body.lstrip()[2:]
        if not pending:
            pending_at = number
        if body.rstrip().endswith("\\"):
            pending += body.rstrip()[:-1] + " "
            continue
        shell.append((pending_at, pending + body))
        pending = ""
    return "\n".join(out_lines), shell


def _mmbind_args(line: str) -> list[str] | None:
    """The arguments after ``mmbind`` in one shell line (``mmbind``, ``.venv/bin/mmbind``, ``python -m
    mmbind``, ``torchrun ... -m mmbind``; leading ``VAR=value`` assignments allowed), cut at the first
    shell operator; None when the line runs no mmbind command."""
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: not a command line
        return None
    while tokens and ENV_ASSIGNMENT.match(tokens[0]):
        tokens.pop(0)
    if not tokens:
        return None
    if Path(tokens[0]).name == "mmbind":
        args = tokens[1:]
    else:
        starts = [i for i in range(1, len(tokens)) if tokens[i] == "mmbind" and tokens[i - 1] == "-m"]
        if not starts:
            return None
        args = tokens[starts[0] + 1:]
    for i, token in enumerate(args):
        if token in SHELL_OPERATORS:
            return args[:i]
    return args


def extract_commands(text: str, file: str = "<text>") -> list[tuple[Command, list[str]]]:
    """Every mmbind command of a Markdown text, with its arguments."""
    prose, shell = _blank_fences_and_collect(text)
    found = []
    for number, line in shell:
        args = _mmbind_args(line)
        if args is not None:
            found.append((Command(file, number, " ".join(line.split()), inline=False), args))
    for match in INLINE.finditer(prose):
        span = " ".join(match.group(1).split())
        if not span.startswith("mmbind "):
            continue
        args = _mmbind_args(span)
        if args is not None:
            number = prose.count("\n", 0, match.start()) + 1
            found.append((Command(file, number, span, inline=True), args))
    return found


@cache
def parser():
    return build_parser()


def _parse(args: list[str]):
    """(namespace or None, error message or None); never exits."""
    stderr, stdout = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            return parser().parse_args(args), None
    except SystemExit as exc:  # argparse exits: 0 after --help, 2 on a usage error
        if exc.code in (0, None):
            return None, None
        return None, stderr.getvalue().strip().splitlines()[-1] if stderr.getvalue().strip() else str(exc)


def _names_a_command_only(args: list[str]) -> bool:
    """True when ``args`` are only sub-command names (``eval``, ``data synth``)."""
    current = parser()
    for token in args:
        subparsers = [a for a in current._actions if a.__class__.__name__ == "_SubParsersAction"]
        if not subparsers or token not in subparsers[0].choices:
            return False
        current = subparsers[0].choices[token]
    return True


def _placeholder(value: str) -> bool:
    return bool(re.search(r"[<>$*{}]|\.\.\.|…", value)) or bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", value))


def _recipe_resolves(name: str) -> bool:
    path = Path(name)
    root = bundled_recipes_dir()
    candidates = (ROOT / path, root / path, root / path.with_suffix(".yaml"))
    return any(candidate.is_file() for candidate in candidates)


def problems(args: list[str], inline: bool = False) -> list[str]:
    """What is wrong with one ``mmbind`` command line (empty when nothing)."""
    if any(token in ELISIONS for token in args):
        return []
    if inline and _names_a_command_only(args):
        _, error = _parse([*args, "--help"])
        return [f"not a command: {error}"] if error else []
    namespace, error = _parse(args)
    if error and any(f"'{token}'" in error for token in args if _placeholder(token)):
        return []  # a placeholder where a number or a choice goes (`--port $PORT`, `--frames N`)
    if error:
        return [f"the parser refuses it: {error}"]
    found = []
    recipes = set()
    for dest in RECIPE_DESTS:
        value = getattr(namespace, dest, None) if namespace is not None else None
        if isinstance(value, str) and not _placeholder(value):
            recipes.add(value)
            if not _recipe_resolves(value):
                found.append(f"no recipe file or bundled recipe named {value!r}")
    for token in args:
        value = (token.split("=", 1)[1] if "=" in token else token).removeprefix("./")  # --opt=V, KEY=V
        if value in recipes or _placeholder(value) or not value.startswith(REPO_PREFIXES):
            continue
        if not (ROOT / value).exists():
            found.append(f"no such file in the repository: {value}")
    return found


def documented_commands() -> list[tuple[Command, list[str]]]:
    found = []
    for path in DOC_FILES:
        found += extract_commands(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    return found


DOCUMENTED = documented_commands()


def test_the_documentation_shows_commands_of_every_kind():
    files = {command.file for command, _ in DOCUMENTED}
    assert {"README.md", "docs/training.md", "docs/serving.md", "docs/evaluation.md"} <= files
    assert len(DOCUMENTED) >= 50
    assert any(command.inline for command, _ in DOCUMENTED) and any(not c.inline for c, _ in DOCUMENTED)


@pytest.mark.parametrize("command, args", DOCUMENTED, ids=[str(c) for c, _ in DOCUMENTED])
def test_every_documented_command_parses_and_names_what_exists(command, args):
    assert problems(args, inline=command.inline) == [], str(command)


@pytest.mark.parametrize("line", [
    "mmbind train tiny/train --no-such-flag",                  # an unknown flag
    "mmbind evaluate runs/tiny",                                # an unknown command
    "mmbind serve runs/tiny --port eight",                      # a value of the wrong type
    "mmbind infer runs/tiny --input q.jsonl",                   # a required option missing
    "mmbind convert onnx a b",                                  # not one of the choices
    "mmbind train tiny/no_such_recipe --output runs/x",         # a recipe that does not resolve
    "mmbind ablate ablations/no_such_sweep",                    # a bundled sweep that does not exist
    "mmbind chat runs/tiny --video examples/no_such_clip.mp4",  # a repository path that does not exist
])
def test_the_checker_catches_a_wrong_command(line):
    (_, args), = extract_commands(f"```bash\n{line}\n```\n")
    assert problems(args) != []


def test_extraction_handles_continuations_prompts_comments_and_placeholders():
    text = "\n".join([
        "Run `mmbind eval RUN --benchmark NAME` or just `mmbind data synth`; not `pip install mmbind`.",
        "```bash",
        "mmbind train tiny/train \\",
        "    --output runs/tiny     # a comment --not-a-flag",
        "OPENAI_API_KEY=... mmbind eval ./vl7b --benchmark pope --data ./eval/pope",
        "torchrun --nproc-per-node 8 -m mmbind train --resume runs/vl7b",
        "mmbind plugins --json | head",
        "mmbind eval ... --json",
        "echo mmbind",
        "```",
        "```console",
        "$ mmbind recipe list",
        "mmbind output that is not a command --bogus",
        "```",
        "```",
        "mmbind transcript line --bogus",
        "```",
    ])
    found = [(c.line, c.inline, args) for c, args in extract_commands(text)]
    assert found == [
        (3, False, ["train", "tiny/train", "--output", "runs/tiny"]),
        (5, False, ["eval", "./vl7b", "--benchmark", "pope", "--data", "./eval/pope"]),
        (6, False, ["train", "--resume", "runs/vl7b"]),
        (7, False, ["plugins", "--json"]),
        (8, False, ["eval", "...", "--json"]),
        (12, False, ["recipe", "list"]),
        (1, True, ["eval", "RUN", "--benchmark", "NAME"]),
        (1, True, ["data", "synth"]),
    ]
    assert all(problems(args, inline) == [] for _, inline, args in found)
    assert problems(["eval"], inline=True) == []     # naming the command
    assert problems(["eval"], inline=False) != []    # a command line without its run
    assert problems(["evaluate"], inline=True) != []
    assert problems(["serve", "RUN", "--port", "$PORT"]) == []      # a shell variable as a number
    assert problems(["serve", "RUN", "--port", "eight"]) != []
