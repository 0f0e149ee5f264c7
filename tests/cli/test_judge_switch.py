"""Whether ``mmbind eval --benchmark`` judges open answers agrees with the help of ``--judge-model``: the
judge is on with ``--judge-model`` / ``--judge-base-url``, or with ``MMBIND_JUDGE_MODEL`` alone, and off
otherwise or with ``--no-judge`` (the offline normalised match)."""

from __future__ import annotations

import pytest

from mmbind.cli.bench_cmd import judge_config
from mmbind.cli.main import build_parser
from tests.support.helpers import cli

JUDGE_ENV = ("MMBIND_JUDGE_MODEL", "MMBIND_JUDGE_BASE_URL", "MMBIND_JUDGE_API_KEY", "OPENAI_API_KEY",
             "OPENAI_BASE_URL")


@pytest.fixture(autouse=True)
def no_judge_env(monkeypatch):
    for name in JUDGE_ENV:
        monkeypatch.delenv(name, raising=False)


def parsed(*extra: str):
    return build_parser().parse_args(["eval", "RUN", "--benchmark", "msvd_qa", "--data", "D", *extra])


def test_the_help_names_the_variable():
    help_text = " ".join(next(a.help for a in _eval_actions() if "--judge-model" in a.option_strings).split())
    assert "(or MMBIND_JUDGE_MODEL)" in help_text


def _eval_actions():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices["eval"]._actions


def test_the_variable_alone_turns_the_judge_on(monkeypatch):
    assert judge_config(parsed()) is None
    monkeypatch.setenv("MMBIND_JUDGE_MODEL", "judge-from-env")
    monkeypatch.setenv("MMBIND_JUDGE_API_KEY", "sk-test")
    config = judge_config(parsed())
    assert config is not None and config.model == "judge-from-env"
    assert judge_config(parsed("--judge-model", "judge-flag")).model == "judge-flag"  # the flag wins
    assert judge_config(parsed("--no-judge")) is None


def test_no_judge_contradicting_a_judge_flag_is_a_usage_error(capsys):
    code, _, err = cli(capsys, "eval", "RUN", "--benchmark", "msvd_qa", "--data", "D", "--no-judge",
                       "--judge-model", "j")
    assert code == 2 and "--no-judge cannot be combined with --judge-model / --judge-base-url" in err


def test_the_variable_alone_reaches_the_judge_settings_through_the_cli(monkeypatch, tmp_path, capsys):
    """Before anything loads: with MMBIND_JUDGE_MODEL but no key, the judge asks for its key (exit 2)."""
    monkeypatch.setenv("MMBIND_JUDGE_MODEL", "judge-from-env")
    code, _, err = cli(capsys, "eval", tmp_path / "no-run", "--benchmark", "msvd_qa", "--data", tmp_path)
    assert code == 2 and "the judge needs a key: set MMBIND_JUDGE_API_KEY or OPENAI_API_KEY" in err
