"""The commands' one vocabulary and their help: every option of every command is walked (so a new command is
checked too), the help is read as it is rendered (so rich markup cannot eat a default again), and the choice
lists are the registries'."""

from __future__ import annotations

import enum
import re
import types
import typing

import pytest
import typer
from typer.testing import CliRunner

from nas.cli import app
from nas.commands.options import (
    MODEL_FORMATS,
    RENAMED,
    human_count,
    parse_count,
    rename_args,
)

runner = CliRunner()
GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)

# One meaning, one spelling: the option's name in the code (its meaning) -> the flags it is spelled with,
# wherever it appears. An option not listed here must still be spelled the same in every command.
MEANINGS = {
    "output": ("--output", "-o"),  # the file or folder a command writes
    "top_k": ("--top-k", "-k"),  # how many rows to show
    "trials": ("--trials",),  # how many candidates (search, resume, benchmark, score)
    "strategy": ("--strategy",),
    "space": ("--space",),
    "preset": ("--preset",),
    "device": ("--device",),
    "data": ("--data",),
    "seed": ("--seed",),
    "dedupe": ("--dedupe", "--no-dedupe"),
    "cache": ("--cache", "--no-cache"),
    "quiet": ("--quiet", "-q"),
    "output_format": ("--format",),  # table, csv or json (results)
    "model_format": ("--model-format", "-f"),  # py, torchscript or onnx (export)
    "arch": ("--arch",),
    "rank": ("--rank",),
    "address": ("--address",),
    "time_budget": ("--time-budget",),
    "results_dir": ("--results-dir",),
    "max_params": ("--max-params",),
    "max_flops": ("--max-flops",),
    "warm_start": ("--warm-start",),
}
# Spellings that said one of the meanings above another way; no command may show them again.
RETIRED = {"--out", "--top", "--budget", "--sample", "--strategies", "--score-data"}


def options(command: str):
    return [p for p in GROUP.commands[command].params if p.param_type_name == "option" and not p.hidden]


def spelling(param) -> tuple[str, ...]:
    return tuple(sorted([*param.opts, *param.secondary_opts]))


def test_each_meaning_has_one_spelling_in_every_command():
    seen: dict[str, tuple[str, tuple[str, ...]]] = {}
    for command in COMMANDS:
        for param in options(command):
            flags = spelling(param)
            if param.name in MEANINGS:
                assert flags == tuple(sorted(MEANINGS[param.name])), (command, param.name, flags)
            first = seen.setdefault(param.name, (command, flags))
            assert first[1] == flags, f"{param.name}: {first[0]} spells it {first[1]}, {command} {flags}"


def test_each_flag_means_one_thing():
    meaning: dict[str, tuple[str, str]] = {}
    for command in COMMANDS:
        for param in options(command):
            for flag in spelling(param):
                first = meaning.setdefault(flag, (command, param.name))
                assert first[1] == param.name, (
                    f"{flag} is {first[1]} in {first[0]} but {param.name} in {command}"
                )


def test_retired_spellings_are_shown_nowhere_but_still_work():
    for command in COMMANDS:
        shown = {flag for param in options(command) for flag in spelling(param)}
        assert not shown & RETIRED, (command, shown & RETIRED)
    for command, renamed in RENAMED.items():
        shown = {flag for param in options(command) for flag in spelling(param)}
        for old, new in renamed.items():
            assert old not in shown and new in shown, (command, old, new)


def test_old_spellings_are_rewritten_with_a_warning():
    args, warnings = rename_args("export", ["run", "--out=m", "--format", "onnx", "--", "--out"])
    assert args == ["run", "--output=m", "--model-format", "onnx", "--", "--out"]
    assert len(warnings) == 2 and "--output" in warnings[0]
    result = runner.invoke(
        app, ["benchmark", "--table", "t.csv", "--strategies", "random,rl", "--budget", "5k"]
    )
    assert "is now --strategy" in result.output  # then it fails on the missing table, not on the spellings
    assert "no such option" not in result.output.lower()


# -- help: every default and every choice, as rendered --


def rendered_help(command: str) -> str:
    import typer.rich_utils

    # Wide enough that no help line wraps (typer reads TERMINAL_WIDTH once, at import).
    width, typer.rich_utils.MAX_WIDTH = typer.rich_utils.MAX_WIDTH, 400
    try:
        result = runner.invoke(app, [command, "--help"])
    finally:
        typer.rich_utils.MAX_WIDTH = width
    assert result.exit_code == 0, result.output
    text = re.sub(r"[│╭╮╰╯─]", " ", result.output)
    return " ".join(text.split())


def choices_of(param) -> list[str] | None:
    annotation = param.type_descriptor.annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (typing.Union, list):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = inner[0] if len(inner) == 1 else annotation
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [m.value for m in annotation]
    return None


def shown_default(param) -> str | None:
    if param.show_default is False or param.is_flag and not param.secondary_opts:
        return None
    if isinstance(param.show_default, str):
        return f"[default: ({param.show_default})]"
    if param.default is None or param.required:
        return None
    if param.secondary_opts:  # --dedupe/--no-dedupe
        return f"[default: {(param.opts if param.default else param.secondary_opts)[0].lstrip('-')}]"
    default = param.default.value if isinstance(param.default, enum.Enum) else param.default
    return f"[default: {default}]"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_every_default_choice_and_help_text(command):
    text = rendered_help(command)
    for param in options(command):
        help_text = " ".join((param.help or "").split())
        assert help_text in text, f"{command} {param.opts[0]}: help text not shown in full: {help_text!r}"
        default = shown_default(param)
        if default is not None:
            assert default in text, f"{command} {param.opts[0]}: {default} not in the help"
        choices = choices_of(param)
        if choices is not None:
            assert "|".join(choices) in text, f"{command} {param.opts[0]}: choices {choices} not shown"


def test_every_option_with_a_default_shows_it():
    # Typer shows a default unless told not to: a hand-written "default" in a help string is not needed.
    for command in COMMANDS:
        for param in options(command):
            assert "default" not in (param.help or "").lower(), (command, param.opts[0], param.help)
            if param.default is None and not param.is_flag and not param.required:
                assert isinstance(param.show_default, str), f"{command} {param.opts[0]}: say what None means"


def test_choices_are_the_registries():
    import search_spaces
    import strategies
    from nas.export.folder import FORMATS
    from nas.strategy_names import STRATEGY_NAMES
    from nas.train.presets import PRESETS

    assert set(STRATEGY_NAMES) == set(strategies.STRATEGIES), "add the new strategy to nas/strategy_names.py"
    assert MODEL_FORMATS == FORMATS
    search = {p.name: choices_of(p) for p in options("search")}
    assert search["strategy"] == list(STRATEGY_NAMES)
    assert search["space"] == sorted(search_spaces.SPACES)
    assert search["preset"] == list(PRESETS)


def test_bare_nas_prints_help_and_version_prints_version():
    from nas._version import __version__

    result = runner.invoke(app, [])
    assert result.exit_code == 0 and "Usage" in result.output and "error" not in result.output
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"nas {__version__}"
    assert "--install-completion" in rendered_help_root()


def rendered_help_root() -> str:
    return runner.invoke(app, ["--help"]).output


# -- counts and their display --


@pytest.mark.parametrize(
    ("text", "count"),
    [("250k", 250_000), ("1.5M", 1_500_000), ("2G", 2 * 10**9), ("1e6", 10**6), ("25_000", 25_000)],
)
def test_counts_take_suffixes(text, count):
    assert parse_count(text) == count


@pytest.mark.parametrize("text", ["1.5", "abc", "-3", "250x", "1.2345k"])
def test_bad_counts_are_one_line_exit_2_nothing_written(tmp_path, text):
    result = runner.invoke(app, ["search", "--results-dir", str(tmp_path), "--max-params", text])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: --max-params:") and "see `nas search --help`" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_parameter_counts_print_readably():
    assert [human_count(n) for n in (25_310, 1_214_000, 999, 3.2e9, None)] == [
        "25.3k",
        "1.21M",
        "999",
        "3.2G",
        "-",
    ]


@pytest.mark.parametrize(
    "args",
    [["score", "--device", "cuda0"], ["final", "--device", "gpu"], ["search", "--strategy", "bayes"]],
)
def test_bad_choices_are_one_line_exit_2(tmp_path, args):
    result = runner.invoke(app, [*args, "--results-dir", str(tmp_path)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {args[1]}"), (
        result.output
    )
    assert list(tmp_path.iterdir()) == []


# -- one unit for accuracy; known cells and PDF pictures wherever they fit --


def test_results_show_accuracy_as_one_fraction_in_table_csv_and_json(tmp_path):
    import csv
    import io
    import json

    from tests.test_pictures import make_run

    make_run(tmp_path / "r", "nb201", ["completed", "completed", "failed"])
    common = ["results", "r", "--results-dir", str(tmp_path)]
    as_json = json.loads(runner.invoke(app, [*common, "--format", "json"]).stdout)
    as_csv = list(csv.DictReader(io.StringIO(runner.invoke(app, [*common, "--format", "csv"]).stdout)))
    table = runner.invoke(app, [*common, "--format", "table"], env={"COLUMNS": "200"}).stdout
    for row, line in zip(as_json, as_csv):
        assert 0 < row["val_accuracy"] < 1 and float(line["val_accuracy"]) == pytest.approx(
            row["val_accuracy"]
        )
        assert f"{row['val_accuracy']:.4f}" in table and human_count(row["params"]) in table
        assert int(line["params"]) == row["params"]  # files keep the whole count


def test_known_cells_and_pdf_pictures(tmp_path):
    from tests.test_pictures import make_run

    result = runner.invoke(app, ["show", "darts_v2", "-o", str(tmp_path / "cell.pdf")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cell.pdf").read_bytes()[:5] == b"%PDF-"
    make_run(tmp_path / "r", "nb201", ["completed", "completed"])
    result = runner.invoke(app, ["plot", "r", "--results-dir", str(tmp_path), "-o", str(tmp_path / "p.pdf")])
    assert result.exit_code == 0 and (tmp_path / "p.pdf").read_bytes()[:5] == b"%PDF-", result.output
    from nas.arch_file import read_arch_file
    from search_spaces.known_cells import DARTS_V2

    assert read_arch_file("darts_v2") == DARTS_V2  # what `nas final --arch darts_v2` reads


@pytest.mark.parametrize(
    ("args", "gpus"),
    [
        (["--device", "cpu"], 0.0),
        (["--device", "cuda"], 0.25),
        (["--device", "cuda", "--gpus-per-trial", "1"], 1.0),
    ],
)
def test_search_device_is_the_gpu_share(monkeypatch, tmp_path, args, gpus):
    import nas.api

    given = {}

    def fake_search(**kwargs):
        given.update(kwargs)
        raise nas.errors.UserError("stop here")

    monkeypatch.setattr(nas.api, "search", fake_search)
    result = runner.invoke(app, ["search", "--results-dir", str(tmp_path), "--trials", "2k", *args])
    assert result.exit_code == 2 and "stop here" in result.output
    assert given["gpus_per_trial"] == gpus and given["trials"] == 2000
    assert "strategy" not in given  # defaults shown in help are not passed: a TOML file may set them


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--device", "cuda:1"], "Ray gives each candidate its own GPU"),
        (["--device", "cpu", "--gpus-per-trial", "1"], "--device cpu trains on CPUs"),
    ],
)
def test_search_device_refusals(tmp_path, args, message):
    result = runner.invoke(app, ["search", "--results-dir", str(tmp_path), *args])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and message in lines[0], result.output
    assert list(tmp_path.iterdir()) == []


def test_shell_completion_offers_the_registry_names():
    import os
    import subprocess
    import sys
    from pathlib import Path

    from nas.strategy_names import STRATEGY_NAMES

    env = {**os.environ, "_NAS_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "nas search --strategy "}
    code = "import sys; sys.argv = ['nas']; from nas.cli import main; main()"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, timeout=120
    )
    assert all(f'"{name}"' in out.stdout for name in STRATEGY_NAMES), out.stdout + out.stderr


def test_benchmark_takes_strategies_comma_separated_or_repeated(monkeypatch):
    import nas.bench.tabular

    given = {}
    monkeypatch.setattr(nas.bench.tabular, "benchmark_command", lambda **kwargs: given.update(kwargs))
    args = [
        "benchmark",
        "--table",
        "t.csv",
        "--strategy",
        "random,rl",
        "--strategy",
        "evolution",
        "--trials",
        "1k",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert given["strategies"] == "random,rl,evolution" and given["budget"] == 1000
    runner.invoke(app, ["benchmark", "--table", "t.csv"])
    assert given["strategies"] == "random,evolution,rl"
