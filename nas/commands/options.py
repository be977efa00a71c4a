"""The commands' one vocabulary: options shared by several commands, declared once, with their choices taken
from the registries and their defaults shown by Typer (help strings never carry "[default: ...]": rich markup
eats square brackets).

Each meaning has one spelling across all commands (tests/test_cli_vocabulary.py walks them): `-o/--output`
for the file or folder a command writes, `-k/--top-k` for how many rows to show, `--trials` for how many
candidates, `--device` for a torch device, counts with k/M/G suffixes. Old spellings are rewritten by the
`nas` group (RENAMED) for one release, with a warning, and appear in no help.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated

import typer

import search_spaces
from nas.searching.config import SCHEDULERS
from nas.strategy_names import STRATEGY_NAMES
from nas.train.presets import PRESETS

try:  # typer 0.2x carries its own copy of click; older ones use click itself
    from typer._click.exceptions import BadParameter
except ImportError:
    from click.exceptions import BadParameter


def _choices(name: str, values) -> type[enum.StrEnum]:
    return enum.StrEnum(name, {value: value for value in values})


# Built from the registries when the CLI is imported, so help, completion and validation list the same names.
SpaceChoice = _choices("SpaceChoice", sorted(search_spaces.SPACES))
StrategyChoice = _choices("StrategyChoice", STRATEGY_NAMES)
PresetChoice = _choices("PresetChoice", PRESETS)
SchedulerChoice = _choices("SchedulerChoice", SCHEDULERS)
TableFormat = _choices("TableFormat", ("table", "csv", "json"))
# nas.export.folder.FORMATS, which imports torch; tests/test_cli_vocabulary.py keeps the two equal.
MODEL_FORMATS = ("py", "torchscript", "onnx")
ModelFormat = _choices("ModelFormat", MODEL_FORMATS)


def value(choice: str | enum.Enum | None) -> str | None:
    """The plain string of a choice (what the library and its messages expect), None kept."""
    return choice.value if isinstance(choice, enum.Enum) else choice


# -- counts: 250k, 1.5M, 2G, 1e6 -------------------------------------------------------------------------

SUFFIXES = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9}  # the suffixes --pareto-pick reads
_COUNT = re.compile(r"^(?P<number>\d[\d_]*(?:\.\d*)?(?:[eE]\+?\d+)?)(?P<suffix>[kKMG]?)$")


def parse_count(text: str | int) -> int:
    """A whole number, written plainly (25000, 25_000), with a k/M/G suffix (25k, 1.5M) or in scientific
    notation (1e6)."""
    if isinstance(text, int):
        return text
    match = _COUNT.match(text.strip())
    if match is None:
        raise BadParameter(f"{text!r} is not a count; write a whole number such as 200, 250k, 1.5M or 1e6")
    number = float(match["number"].replace("_", "")) * SUFFIXES[match["suffix"]]
    if number != int(number):
        raise BadParameter(f"{text!r} is not a whole number")
    return int(number)


def human_count(n: int | float | None) -> str:
    """25310 -> 25.3k, 1214000 -> 1.21M: the suffixes counts are typed with, three significant digits."""
    if n is None:
        return "-"
    for suffix, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            scaled = n / size
            return f"{scaled:.3g}{suffix}" if scaled < 1000 else f"{scaled:.0f}{suffix}"
    return f"{n:g}"


def CountOption(*names: str, help: str, **kwargs) -> typer.models.OptionInfo:  # noqa: N802 (a typer.Option)
    """An option taking a count, with k/M/G suffixes."""
    return typer.Option(*names, parser=parse_count, metavar="N", help=help, **kwargs)


def parse_strategies(text: str) -> str:
    """Strategy names, comma-separated (random,evolution) or one per --strategy, checked against the
    registry's names."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in STRATEGY_NAMES]
    if not names or unknown:
        raise BadParameter(
            f"unknown strategy {', '.join(map(repr, unknown)) or '(none given)'}; choose from "
            f"{', '.join(STRATEGY_NAMES)}"
        )
    return ",".join(names)


STRATEGIES_METAVAR = "|".join(STRATEGY_NAMES) + ",..."


# -- devices ----------------------------------------------------------------------------------------------

_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


def parse_device(text: str) -> str:
    """cpu, cuda or cuda:N, checked without torch; whether this machine has it is checked where it is used
    (nas.train.device.resolve_device)."""
    if not _DEVICE.match(text.strip()):
        raise BadParameter(f"{text!r} is not a device; use cpu, cuda or cuda:N")
    return text.strip()


Device = Annotated[
    str | None,
    typer.Option(
        parser=parse_device,
        metavar="cpu|cuda|cuda:N",
        show_default="cuda when torch sees a GPU, else cpu",
        help="Torch device to run on.",
    ),
]


# -- shared options ---------------------------------------------------------------------------------------

ResultsDir = Annotated[
    Path | None,
    typer.Option(
        "--results-dir",
        envvar="NAS_RESULTS_DIR",
        show_default="results",
        help="Folder that holds runs by name.",
    ),
]


def OutputOption(help: str, default: str | None = None, **kwargs) -> typer.models.OptionInfo:  # noqa: N802
    """`-o/--output`: the file or folder a command writes."""
    return typer.Option("--output", "-o", help=help, show_default=default or False, **kwargs)


def TopKOption(help: str) -> typer.models.OptionInfo:  # noqa: N802
    """`-k/--top-k`: how many rows (candidates, classes) to show."""
    return typer.Option("--top-k", "-k", parser=parse_count, metavar="K", min=1, help=help)


DATA_HELP = (
    "Image folder (train/<class>/ + test/<class>/, or <class>/), train/test.parquet, cifar-10-batches-py, "
    "or a dataset name: cifar10, cifar100, svhn, fashionmnist, mnist."
)
ARCH_HELP = "Architecture JSON file (search_spaces.to_json) or a known cell name: {}."


def arch_help() -> str:
    from search_spaces.known_cells import KNOWN_CELLS

    return ARCH_HELP.format(", ".join(sorted(KNOWN_CELLS)))


# -- renamed spellings ------------------------------------------------------------------------------------

# Old spelling -> new, per command: the `nas` group rewrites them before parsing (nas.cli), warns, and shows
# them in no help. Remove them in the release after next.
RENAMED: dict[str, dict[str, str]] = {
    "results": {"--top": "--top-k"},
    "plot": {"--top": "--top-k"},
    "score": {"--top": "--top-k", "--sample": "--trials"},
    "export": {"--out": "--output", "--format": "--model-format"},
    "benchmark": {"--strategies": "--strategy", "--budget": "--trials", "--score-data": "--data"},
}


def rename_args(command: str, args: list[str]) -> tuple[list[str], list[str]]:
    """`args` with the command's old spellings replaced (also as --old=VALUE, never after `--`), and a warning
    per spelling replaced."""
    renamed = RENAMED.get(command, {})
    out, warnings = [], []
    for i, arg in enumerate(args):
        if arg == "--":
            out.extend(args[i:])
            break
        name, sep, rest = arg.partition("=")
        if name in renamed:
            new = renamed[name]
            out.append(new + sep + rest)
            warnings.append(
                f"warning: `nas {command} {name}` is now {new}; the old spelling goes in a later release"
            )
        else:
            out.append(arg)
    return out, warnings
