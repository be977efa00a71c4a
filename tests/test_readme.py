"""Every `nas …` command in a fenced block of README.md and docs/*.md exists: each runs through the app with
`--help` appended, so a renamed command or option fails here (click parses every option before `--help`
answers) while nothing runs, and placeholders such as RUN or a missing file are never opened."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nas.cli import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_FENCES = ("", "bash", "sh", "shell", "console")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def fenced_commands(text: str) -> list[str]:
    """The `nas` command lines of the shell blocks in a Markdown text, continuation lines joined."""
    commands = []
    for language, body in FENCE.findall(text):
        if language not in SHELL_FENCES:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if line == "nas" or line.startswith("nas "):
                commands.append(line)
    return commands


def all_commands() -> list[tuple[str, str]]:
    return [
        (page.relative_to(ROOT).as_posix(), c) for page in PAGES for c in fenced_commands(page.read_text())
    ]


def test_the_pages_have_commands():
    pages = {page for page, _ in all_commands()}
    assert "README.md" in pages and len(pages) > 3, pages


def test_fenced_commands_are_found():
    text = "x\n```\nnas search --trials 3 \\\n    --name a   # comment\n$ nas results a\n```\n"
    text += "```python\nnas = 1\n```\n"
    assert fenced_commands(text) == ["nas search --trials 3      --name a   # comment", "nas results a"]


def invoke_help(command: str):
    args = shlex.split(command, comments=True)[1:]
    return CliRunner().invoke(app, [*args, "--help"])


@pytest.mark.parametrize(("page", "command"), all_commands())
def test_command_parses(page, command):
    result = invoke_help(command)
    assert result.exit_code == 0, f"{page}: `{command}`: {result.output.strip()[-400:]}"
    assert "Usage" in result.output


@pytest.mark.parametrize("command", ["nas serach --trials 3", "nas search --trials 3 --no-such-flag"])
def test_a_wrong_command_fails(command):
    assert invoke_help(command).exit_code != 0
