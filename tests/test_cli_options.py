"""Every option of every `convene` subcommand says what it does; --version says which."""

import argparse
from importlib.metadata import version

import pytest

from app.cli import build_parser, main


def _parsers(
    parser: argparse.ArgumentParser, name: str = "convene"
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                found += _parsers(sub, f"{name} {sub_name}")
    return found


def test_every_option_has_help_text() -> None:
    parsers = _parsers(build_parser())
    assert {name for name, _ in parsers} >= {
        "convene serve",
        "convene worker",
        "convene migrate",
        "convene rotate-keys",
        "convene token",
        "convene demo",
        "convene openapi",
    }
    missing = [
        f"{name} {action.option_strings[-1]}"
        for name, parser in parsers
        for action in parser._actions
        if action.option_strings and not (action.help and action.help != argparse.SUPPRESS)
    ]
    assert missing == []


def test_every_subcommand_has_help_text() -> None:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest for choice in action._choices_actions if choice.help}
            assert helped == set(action.choices)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"convene {version('convene')}\n"
